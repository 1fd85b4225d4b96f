/*-------------------------------------------------------------------------
 *
 * operations.h
 *	  The SQL functions, one file per family: reads.c, writes.c,
 *	  counters.c, multi.c, admin.c, lease.c; what one family lends another
 *	  (src/README: layers).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYLIBMC_PG_OPERATIONS_H
#define PYLIBMC_PG_OPERATIONS_H

#include <libmemcached/memcached.h>

#include "codec.h"
#include "stats.h"

/* largest key + value we send over UDP (one datagram, below 64 KB) */
#define PMC_MAX_UDP_VALUE	60000

/*
 * One value as read.  data points into the client's result buffer: valid
 * until the next request.
 */
typedef struct PmcRawValue
{
	const char *data;
	size_t		len;
	uint32_t	flags;
	uint64_t	cas;
	bool		found;
} PmcRawValue;

/* reads.c: one key into the client's result buffer */
extern bool pmc_read_one(memcached_st *mc, PmcOp op, const char *key, size_t keylen,
						 PmcRawValue *raw, bool cas);

/* reads.c: does the key hold a pickled None (a tombstone, a lease marker)? */
extern PmcOutcome pmc_key_holds_none(memcached_st *mc, const char *verb, const char *key,
									 size_t keylen, uint64_t *cas);

/* writes.c: one request; HIT stored/deleted, MISS not, ERROR failed */
extern PmcOutcome pmc_store(memcached_st *mc, PmcOp op, const char *key, size_t keylen,
							const PmcValue *value, time_t ttl, uint64_t cas);
extern PmcOutcome pmc_delete_key(memcached_st *mc, const char *key, size_t keylen, time_t ttl);

#endif							/* PYLIBMC_PG_OPERATIONS_H */
