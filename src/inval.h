/*-------------------------------------------------------------------------
 *
 * inval.h
 *	  Transactional invalidation: the queue and its transaction callbacks
 *	  (inval_queue.c), the commit-time sender (inval_send.c) and the
 *	  mc_invalidate trigger (inval_trigger.c), the invalidation log in the
 *	  WAL and its shared memory (inval_log.c) (src/README: layers).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYLIBMC_PG_INVAL_H
#define PYLIBMC_PG_INVAL_H

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"

/* the queue and its transaction callbacks */
extern void pmc_invalidation_init(void);
extern void pmc_inval_queue(const char *key, size_t len, int config);

/* the sender: configurations recorded at queue time, the batch */
extern int	pmc_inval_config(void);
extern void pmc_inval_unpin_all(void);
extern void pmc_inval_disconnect(void);
typedef struct PmcInvalSend PmcInvalSend;
extern PmcInvalSend *pmc_inval_send_begin(int hold);
extern void pmc_inval_send_keys(PmcInvalSend *send, int config,
								const char *const *keys, const uint32 *lens, int n);
extern void pmc_inval_send_lost(PmcInvalSend *send, long n);
/* true: every key was acknowledged by every server it went to */
extern bool pmc_inval_send_end(PmcInvalSend *send);
extern const char *pmc_inval_send_last_failure(void);
extern int	pmc_inval_send_last_failure_code(void);
extern void pmc_inval_send_quiet(bool quiet);

/* what the invalidation log records of a configuration (no credential) */
typedef struct PmcInvalDesc
{
	const char *servers;		/* pylibmc_pg.servers' text */
	const char *behaviors;		/* pylibmc_pg.behaviors' text */
	const char *namespace;		/* applied to the logged keys */
	bool		binary;
	bool		udp;
	bool		servers_by_role;	/* never send credentials there */
} PmcInvalDesc;
extern void pmc_inval_config_describe(int config, PmcInvalDesc *desc);

/* ---------- inval_log.c: the invalidation log ---------- */

/* the prefix of the logical messages */
#define PMC_INVAL_LOG_PREFIX	"pylibmc_pg"
/* the format of a message's content (first byte) */
#define PMC_INVAL_LOG_VERSION	1
/* message flags */
#define PMC_INVAL_LOG_BINARY	0x01
#define PMC_INVAL_LOG_BY_ROLE	0x02

/*
 * A message, decoded: a run of keys of one configuration, the namespace
 * already applied to them.
 */
typedef struct PmcInvalLogMessage
{
	int			hold;
	bool		binary;
	bool		servers_by_role;
	char	   *servers;
	char	   *behaviors;
	int			nkeys;
	const char **keys;
	uint32	   *lens;
} PmcInvalLogMessage;
extern bool pmc_inval_log_parse(const char *data, Size size, PmcInvalLogMessage *msg);

/* the committing backend: write the queue into the WAL, record its send */
typedef struct PmcInvalLog PmcInvalLog;
extern bool pmc_inval_log_wanted(void);
extern PmcInvalLog *pmc_inval_log_begin(int hold);
extern void pmc_inval_log_keys(PmcInvalLog *log, int config,
							   const char *const *keys, const uint32 *lens, int n);
extern void pmc_inval_log_end(PmcInvalLog *log);
extern void pmc_inval_log_sent(bool delivered);
extern void pmc_inval_log_abort(void);

/* the shared memory: the record of deliveries, each database's replay */
#define PMC_REPLAY_MAX_DATABASES	64
typedef enum PmcDelivery
{
	PMC_DELIVERY_UNKNOWN,		/* not recorded (or forgotten): resend */
	PMC_DELIVERY_SENDING,		/* its backend is sending it */
	PMC_DELIVERY_DELIVERED,		/* every key acknowledged */
	PMC_DELIVERY_FAILED			/* the backend could not deliver it */
} PmcDelivery;

typedef struct PmcReplayStats
{
	char		dbname[NAMEDATALEN];
	Oid			dboid;			/* InvalidOid until its worker started */
	int			pid;			/* the worker's, 0 when none runs */
	char		slot[NAMEDATALEN];
	int64		transactions;	/* replayed: delivered by their backend or
								 * by the worker */
	int64		keys_delivered; /* by the committing backend (not resent) */
	int64		keys_resent;	/* by the worker, acknowledged */
	int64		keys_given_up;	/* older than the max age, not delivered */
	TimestampTz oldest_undelivered; /* 0: none */
	XLogRecPtr	confirmed_lsn;
	char		last_error[256];
	TimestampTz last_error_time;	/* 0: none */
} PmcReplayStats;

extern void pmc_inval_log_shmem_init(int ndatabases);
extern int	pmc_inval_log_ndatabases(void);
extern void pmc_inval_log_set_database(int index, const char *dbname);
extern void pmc_inval_log_worker_started(int index, Oid dboid, const char *slot);
extern void pmc_inval_log_worker_stopped(int index);
extern PmcDelivery pmc_inval_log_delivery(TransactionId xid);
extern void pmc_inval_log_forget(TransactionId xid);
extern void pmc_inval_log_update(int index, const PmcReplayStats *delta, bool set_error,
								 bool set_oldest);
extern bool pmc_inval_log_snapshot(int index, PmcReplayStats *out);

#endif							/* PYLIBMC_PG_INVAL_H */
