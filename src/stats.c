/*-------------------------------------------------------------------------
 *
 * stats.c
 *	  This backend's own counters, per server and operation, and
 *	  mc_client_stats() to read them.
 *
 * The counters live in TopMemoryContext for the backend's life.  Servers
 * are remembered by name, so a rebuilt client (a changed setting) keeps
 * adding to the same rows.  Keyless operations (flush_all, stats) count
 * under the server name "(all)".  Each call counted here is also added to
 * the whole cluster's counters (cluster_stats.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "client.h"
#include "compat.h"
#include "stats.h"

typedef struct PmcCounters
{
	int64		calls;
	int64		hits;
	int64		misses;
	int64		errors;
	int64		bytes_sent;
	int64		bytes_received;
	instr_time	time;
} PmcCounters;

typedef struct PmcServerCounters
{
	char	   *name;
	PmcCounters ops[PMC_NUM_OPS];
} PmcServerCounters;

static PmcServerCounters *known = NULL;	/* index 0 is "(all)" */
static int	nknown = 0;
static int	known_capacity = 0;

/* server index of the current client -> index in known[] */
static int *server_slot = NULL;
static int	nserver_slots = 0;

static int
slot_for_name(const char *name)
{
	for (int i = 0; i < nknown; i++)
		if (strcmp(known[i].name, name) == 0)
			return i;
	if (nknown == known_capacity)
	{
		int			newcap = known_capacity ? known_capacity * 2 : 8;

		if (known == NULL)
			known = MemoryContextAllocZero(TopMemoryContext, newcap * sizeof(PmcServerCounters));
		else
		{
			known = repalloc(known, newcap * sizeof(PmcServerCounters));
			memset(known + known_capacity, 0, (newcap - known_capacity) * sizeof(PmcServerCounters));
		}
		known_capacity = newcap;
	}
	known[nknown].name = MemoryContextStrdup(TopMemoryContext, name);
	return nknown++;
}

/* A client was (re)built (client.c's callback): map its servers to counter rows */
void
pmc_stats_reset_servers(memcached_st *mc)
{
	uint32_t	count = memcached_server_count(mc);

	if (nknown == 0)
		slot_for_name("(all)");
	if (server_slot)
		pfree(server_slot);
	server_slot = MemoryContextAlloc(TopMemoryContext, Max(count, 1) * sizeof(int));
	nserver_slots = (int) count;
	for (uint32_t i = 0; i < count; i++)
	{
		char	   *name = pmc_instance_name(memcached_server_instance_by_position(mc, i));

		server_slot[i] = slot_for_name(name);
		pfree(name);
	}
}

/*
 * Add ncalls calls of one outcome, that took elapsed in all, to the
 * server's counters (index UINT32_MAX: "(all)"), and to the cluster's when
 * the library is preloaded.  Every counted call goes through here: kept
 * inline, one function call per call counted.
 */
static inline void
count_calls(uint32_t index, PmcOp op, PmcOutcome outcome, long ncalls,
			size_t sent, size_t received, instr_time elapsed)
{
	PmcCounters *c;
	int			slot = 0;

	if (index < (uint32_t) nserver_slots)
		slot = server_slot[index];
	if (pmc_cluster_stats_on)
		pmc_cluster_stats_count(slot, known ? known[slot].name : "(all)", op, outcome,
								ncalls, sent, received, elapsed);
	if (known == NULL)
		return;
	c = &known[slot].ops[op];
	c->calls += ncalls;
	if (outcome == PMC_HIT)
		c->hits += ncalls;
	else if (outcome == PMC_MISS)
		c->misses += ncalls;
	else
		c->errors += ncalls;
	c->bytes_sent += sent;
	c->bytes_received += received;
	INSTR_TIME_ADD(c->time, elapsed);
}

void
pmc_stats_count(memcached_st *mc, PmcOp op, const char *key, size_t keylen,
				PmcOutcome outcome, size_t sent, size_t received, instr_time start)
{
	uint32_t	index = UINT32_MAX;	/* "(all)" */
	instr_time	elapsed;

	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	if (key != NULL && nserver_slots > 0)
		index = (nserver_slots == 1) ? 0 : memcached_generate_hash(mc, key, keylen);
	count_calls(index, op, outcome, 1, sent, received, elapsed);
}

/* The same, when the caller knows the server's index (UINT32_MAX: "(all)") */
void
pmc_stats_count_server(uint32_t index, PmcOp op, PmcOutcome outcome,
					   size_t sent, size_t received, instr_time start)
{
	instr_time	elapsed;

	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	count_calls(index, op, outcome, 1, sent, received, elapsed);
}

/*
 * ncalls calls of one outcome at once, with no time of their own: the
 * quiet deletes of a commit, known applied (or not) only at the barrier
 * (whose wait is not split among them), and keys never sent.  One step,
 * no clock read.
 */
void
pmc_stats_count_calls(uint32_t index, PmcOp op, PmcOutcome outcome, long ncalls,
					  size_t sent, size_t received)
{
	instr_time	none;

	INSTR_TIME_SET_ZERO(none);
	if (ncalls > 0)
		count_calls(index, op, outcome, ncalls, sent, received, none);
}

PG_FUNCTION_INFO_V1(pylibmc_pg_client_stats);

/*
 * mc_client_stats(): one row per server and operation that was used.
 */
Datum
pylibmc_pg_client_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	pmc_init_materialized_srf(fcinfo);
	for (int s = 0; s < nknown; s++)
	{
		for (int op = 0; op < PMC_NUM_OPS; op++)
		{
			PmcCounters *c = &known[s].ops[op];
			Datum		values[9];
			bool		nulls[9] = {0};

			if (c->calls == 0)
				continue;
			values[0] = CStringGetTextDatum(known[s].name);
			values[1] = CStringGetTextDatum(pmc_op_name((PmcOp) op));
			values[2] = Int64GetDatum(c->calls);
			values[3] = Int64GetDatum(c->hits);
			values[4] = Int64GetDatum(c->misses);
			values[5] = Int64GetDatum(c->errors);
			values[6] = Int64GetDatum(c->bytes_sent);
			values[7] = Int64GetDatum(c->bytes_received);
			values[8] = Float8GetDatum(INSTR_TIME_GET_MILLISEC(c->time));
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}
