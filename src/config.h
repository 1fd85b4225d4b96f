/*-------------------------------------------------------------------------
 *
 * config.h
 *	  Parsers for the pylibmc_pg.servers and pylibmc_pg.behaviors settings.
 *
 * These parsers are plain C: they do not include postgres.h, raise no
 * ERROR and take an allocator, so the GUC check hooks can use them (their
 * "extra" must come from the GUC allocator) and a libFuzzer harness can
 * link them without a backend.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYLIBMC_PG_CONFIG_H
#define PYLIBMC_PG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PMC_DEFAULT_PORT	11211
#define PMC_MAX_HOST_LEN	255		/* DNS name or socket path */
#define PMC_MAX_SERVERS		256
#define PMC_MAX_BEHAVIORS	64

typedef void *(*pmc_alloc_fn) (size_t size);
typedef void (*pmc_free_fn) (void *ptr);

typedef enum PmcTransport
{
	PMC_TRANSPORT_TCP,
	PMC_TRANSPORT_UDP,
	PMC_TRANSPORT_UNIX
} PmcTransport;

typedef struct PmcServer
{
	char		host[PMC_MAX_HOST_LEN + 1];	/* host name, IP, or socket path */
	int			port;			/* 0 for UNIX sockets */
	int			weight;			/* >= 1 */
} PmcServer;

/* One allocation, so it can serve as a GUC "extra" */
typedef struct PmcServerList
{
	PmcTransport transport;
	int			nservers;
	PmcServer	servers[];
} PmcServerList;

/*
 * Behaviors: pylibmc's names, mapped to libmemcached's behavior numbers.
 * 'id' is a memcached_behavior_t value.
 */
/* the id of a behavior only pylibmc has (pickle_protocol): not libmemcached's */
#define PMC_BEHAVIOR_PYLIBMC_ONLY	(-1)

typedef struct PmcBehaviorSetting
{
	int			id;
	int64_t		value;
} PmcBehaviorSetting;

typedef struct PmcBehaviorList
{
	int			nsettings;
	PmcBehaviorSetting settings[];
} PmcBehaviorList;

typedef enum PmcBehaviorKind
{
	PMC_BK_BOOL,
	PMC_BK_INT,
	PMC_BK_HASH,
	PMC_BK_DISTRIBUTION
} PmcBehaviorKind;

typedef struct PmcBehaviorInfo
{
	const char *name;			/* pylibmc's name */
	int			id;				/* memcached_behavior_t */
	PmcBehaviorKind kind;
} PmcBehaviorInfo;

extern const PmcBehaviorInfo pmc_behavior_table[];
extern const int pmc_behavior_table_size;

extern PmcServerList *pmc_parse_servers(const char *input, pmc_alloc_fn alloc,
										char *errbuf, size_t errlen);
extern PmcBehaviorList *pmc_parse_behaviors(const char *input, pmc_alloc_fn alloc,
											char *errbuf, size_t errlen);
extern const PmcBehaviorInfo *pmc_behavior_info(int id);
extern const char *pmc_behavior_name(int id);
extern const char *pmc_hash_name(uint64_t value);
extern const char *pmc_distribution_name(uint64_t value);

#endif							/* PYLIBMC_PG_CONFIG_H */
