/*-------------------------------------------------------------------------
 *
 * stats.h
 *	  The counters of calls: this backend's (stats.c) and the whole
 *	  cluster's, in shared memory when preloaded (cluster_stats.c), which
 *	  stats.c adds every call to (src/README: layers).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYLIBMC_PG_STATS_H
#define PYLIBMC_PG_STATS_H

#include <libmemcached/memcached.h>

#include "portability/instr_time.h"

typedef enum PmcOp
{
	PMC_OP_GET,
	PMC_OP_GET_MULTI,
	PMC_OP_SET,
	PMC_OP_ADD,
	PMC_OP_REPLACE,
	PMC_OP_APPEND,
	PMC_OP_PREPEND,
	PMC_OP_CAS,
	PMC_OP_DELETE,
	PMC_OP_TOUCH,
	PMC_OP_INCR,
	PMC_OP_DECR,
	PMC_OP_FLUSH,
	PMC_OP_STATS,
	PMC_OP_INVALIDATE,
	PMC_OP_LEASE,				/* mc_lease's claim: hit claimed, miss the key exists */
	PMC_OP_FILL,				/* mc_fill's cas: hit stored, miss the lease was broken */
	PMC_OP_FILL_WRITTEN,		/* fills refused: the transaction has written */
	PMC_OP_FILL_ISOLATION,		/* fills refused: REPEATABLE READ or SERIALIZABLE */
	PMC_NUM_OPS
} PmcOp;

typedef enum PmcOutcome
{
	PMC_HIT,					/* a read found it, a write stored it */
	PMC_MISS,					/* not found, not stored */
	PMC_ERROR
} PmcOutcome;

/* An operation's name, as mc_client_stats and mc_cluster_stats show it */
static inline const char *
pmc_op_name(PmcOp op)
{
	static const char *const names[PMC_NUM_OPS] = {
		"get", "get_multi", "set", "add", "replace", "append", "prepend", "cas",
		"delete", "touch", "incr", "decr", "flush_all", "stats", "delete_on_commit",
		"lease", "fill", "fill_refused_written", "fill_refused_isolation"
	};

	return names[op];
}

/* ---------- stats.c: this backend's counters ---------- */

/* a client was (re)built: map its servers to counter rows */
extern void pmc_stats_reset_servers(memcached_st *mc);
extern void pmc_stats_count(memcached_st *mc, PmcOp op, const char *key, size_t keylen,
							PmcOutcome outcome, size_t sent, size_t received,
							instr_time start);
extern void pmc_stats_count_server(uint32_t index, PmcOp op, PmcOutcome outcome,
								   size_t sent, size_t received, instr_time start);
extern void pmc_stats_count_calls(uint32_t index, PmcOp op, PmcOutcome outcome,
								  long ncalls, size_t sent, size_t received);

/* ---------- cluster_stats.c: the same counters, cluster-wide ---------- */

extern bool pmc_cluster_stats_on;	/* preloaded: the shared counters exist */

extern void pmc_cluster_stats_init(void);
extern void pmc_cluster_stats_count(int slot, const char *server, PmcOp op,
									PmcOutcome outcome, long ncalls, size_t sent,
									size_t received, instr_time elapsed);

#endif							/* PYLIBMC_PG_STATS_H */
