/*-------------------------------------------------------------------------
 *
 * cluster_stats.c
 *	  The whole cluster's counters, per database, role, server and
 *	  operation, in shared memory (only with shared_preload_libraries),
 *	  and mc_cluster_stats(), mc_cluster_stats_info() and
 *	  mc_cluster_stats_reset() to read and clear them.
 *
 * Every call that stats.c counts for this backend is added here too
 * (pmc_cluster_stats_count()), so the view shows the sum over every
 * backend, past and present.  The shape is pg_stat_statements': a shared
 * hash table of at most pylibmc_pg.cluster_stats_max entries, keyed by
 * (database, role, server name, operation), one LWLock for the table and a
 * spinlock per entry.  Counting takes the lock shared and the entry's
 * spinlock; only a new entry takes it exclusive, and when the table is
 * full the least used entries (usage: calls, decayed at each eviction)
 * are evicted first.  A removal (eviction, reset) changes the table's
 * generation, so a backend may keep a pointer to its entries between
 * calls and look one up again only when the generation moved.
 *
 * Counting runs after a commit too (the commit-time deletes): nothing here
 * may raise an ERROR there.  So the table is never allowed to run out of
 * shared memory (HASH_ENTER_NULL, after an eviction), eviction allocates
 * nothing, and the backend's cache is allocated without throwing (no
 * cache: a plain lookup).
 *
 * The counters live until the server stops (they are not written to disk)
 * or mc_cluster_stats_reset().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "compat.h"
#include "settings.h"
#include "stats.h"

/* server names are kept up to this many bytes, NUL included */
#define CS_SERVER_LEN		128

/* the shared memory's names; the tranche shows in wait_event */
#define CS_STATE_NAME		"pylibmc_pg cluster stats"
#define CS_HASH_NAME		"pylibmc_pg cluster stats hash"
#define CS_TRANCHE_NAME		"pylibmc_pg"

/* a full table evicts this share of its entries at once, at most CS_EVICT_MAX */
#define CS_EVICT_PERCENT	5
#define CS_EVICT_MAX		64
/* every usage is multiplied by this at each eviction */
#define CS_USAGE_DECAY		0.99

typedef struct ClusterKey
{
	Oid			dbid;
	Oid			userid;
	int32		op;				/* PmcOp */
	char		server[CS_SERVER_LEN];
} ClusterKey;

typedef struct ClusterEntry
{
	ClusterKey	key;			/* the hash key: first */
	slock_t		mutex;			/* protects the fields below */
	int64		calls;
	int64		hits;
	int64		misses;
	int64		errors;
	int64		bytes_sent;
	int64		bytes_received;
	double		total_ms;
	double		min_ms;
	double		max_ms;
	double		usage;			/* calls, decayed at each eviction */
} ClusterEntry;

typedef struct ClusterState
{
	LWLock	   *lock;			/* the table: shared to count, exclusive to
								 * add or remove entries */
	/* the fields below change under the exclusive lock only */
	uint64		generation;		/* changed when entries are removed */
	int64		evicted;		/* entries evicted since the last reset */
	TimestampTz stats_reset;
} ClusterState;

/* This backend's pointer to an entry, for one (server slot, operation) */
typedef struct CachedEntry
{
	ClusterEntry *entry;		/* NULL: look it up */
	uint64		generation;		/* the table's when it was found */
	Oid			userid;			/* the role it was found for */
} CachedEntry;

static ClusterState *cs_state = NULL;
static HTAB *cs_hash = NULL;

/* the shared counters exist (stats.c calls pmc_cluster_stats_count then) */
bool		pmc_cluster_stats_on = false;

static CachedEntry *cache = NULL;	/* [server slot * PMC_NUM_OPS + op] */
static int	ncache = 0;

#ifdef PMC_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
cs_memsize(void)
{
	return add_size(MAXALIGN(sizeof(ClusterState)),
					hash_estimate_size(pmc_cluster_stats_max, sizeof(ClusterEntry)));
}

static void
cs_request(void)
{
#ifdef PMC_HAVE_SHMEM_REQUEST_HOOK
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(cs_memsize());
	RequestNamedLWLockTranche(CS_TRANCHE_NAME, 1);
}

static void
cs_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	cs_state = NULL;
	cs_hash = NULL;
	pmc_cluster_stats_on = false;
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	cs_state = ShmemInitStruct(CS_STATE_NAME, sizeof(ClusterState), &found);
	if (!found)
	{
		cs_state->lock = &(GetNamedLWLockTranche(CS_TRANCHE_NAME))->lock;
		cs_state->generation = 0;
		cs_state->evicted = 0;
		cs_state->stats_reset = GetCurrentTimestamp();
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(ClusterKey);
	info.entrysize = sizeof(ClusterEntry);
	cs_hash = ShmemInitHash(CS_HASH_NAME, pmc_cluster_stats_max, pmc_cluster_stats_max,
							&info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
	pmc_cluster_stats_on = (cs_hash != NULL);
}

/*
 * From _PG_init(), after the settings are defined.  Only a preloaded
 * library gets shared memory; otherwise the counters stay off.
 */
void
pmc_cluster_stats_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
#ifdef PMC_HAVE_SHMEM_REQUEST_HOOK
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = cs_request;
#else
	cs_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = cs_startup;
}

/*
 * Evict the least used entries, with the lock held exclusive.  The
 * victims are kept in a small sorted array: no allocation.
 */
static void
cs_evict(void)
{
	ClusterEntry *victims[CS_EVICT_MAX];
	int			want = Min(Max(pmc_cluster_stats_max * CS_EVICT_PERCENT / 100, 1), CS_EVICT_MAX);
	int			nvictims = 0;
	HASH_SEQ_STATUS seq;
	ClusterEntry *e;

	hash_seq_init(&seq, cs_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		int			i;

		/* nobody else holds the lock: no spinlock needed */
		e->usage *= CS_USAGE_DECAY;
		if (nvictims == want && e->usage >= victims[nvictims - 1]->usage)
			continue;
		if (nvictims < want)
			nvictims++;
		for (i = nvictims - 1; i > 0 && victims[i - 1]->usage > e->usage; i--)
			victims[i] = victims[i - 1];
		victims[i] = e;
	}
	for (int i = 0; i < nvictims; i++)
		hash_search(cs_hash, &victims[i]->key, HASH_REMOVE, NULL);
	cs_state->evicted += nvictims;
	cs_state->generation++;
}

/*
 * The entry for key, created if missing, with the lock held exclusive.
 * NULL only if the table cannot take it (it cannot, unless shared memory
 * is short): the call then goes uncounted here.
 */
static ClusterEntry *
cs_enter(const ClusterKey *key)
{
	ClusterEntry *e;
	bool		found;

	e = hash_search(cs_hash, key, HASH_FIND, NULL);
	if (e != NULL)
		return e;
	if (hash_get_num_entries(cs_hash) >= pmc_cluster_stats_max)
		cs_evict();
	e = hash_search(cs_hash, key, HASH_ENTER_NULL, &found);
	if (e != NULL && !found)
	{
		SpinLockInit(&e->mutex);
		e->calls = e->hits = e->misses = e->errors = 0;
		e->bytes_sent = e->bytes_received = 0;
		e->total_ms = e->min_ms = e->max_ms = 0;
		e->usage = 0;
	}
	return e;
}

/* This backend's cache cell for (slot, op); NULL when memory is short */
static CachedEntry *
cache_cell(int slot, PmcOp op)
{
	int			i = slot * PMC_NUM_OPS + (int) op;

	if (i >= ncache)
	{
		int			n = Max(i + 1, ncache * 2);
		CachedEntry *grown;

		grown = MemoryContextAllocExtended(TopMemoryContext, n * sizeof(CachedEntry),
										   MCXT_ALLOC_NO_OOM | MCXT_ALLOC_ZERO);
		if (grown == NULL)
			return NULL;
		if (cache != NULL)
		{
			memcpy(grown, cache, ncache * sizeof(CachedEntry));
			pfree(cache);
		}
		cache = grown;
		ncache = n;
	}
	return &cache[i];
}

/*
 * Add ncalls calls (usually one) that took elapsed in all to the shared
 * counters (called by stats.c for every call it counts).  slot is
 * stats.c's number for the server name, stable for the backend's life.
 * Never raises an ERROR.
 */
void
pmc_cluster_stats_count(int slot, const char *server, PmcOp op, PmcOutcome outcome,
						long ncalls, size_t sent, size_t received, instr_time elapsed)
{
	CachedEntry *cell;
	ClusterEntry *e = NULL;
	Oid			userid;
	double		ms;
	double		total_ms;

	/* off, or a process without a PGPROC (LWLocks need one) */
	if (cs_hash == NULL || MyProc == NULL || ncalls <= 0)
		return;
	userid = GetUserId();
	cell = cache_cell(slot, op);

	LWLockAcquire(cs_state->lock, LW_SHARED);
	if (cell != NULL && cell->entry != NULL &&
		cell->generation == cs_state->generation && cell->userid == userid)
		e = cell->entry;
	else
	{
		ClusterKey	key;

		memset(&key, 0, sizeof(key));
		key.dbid = MyDatabaseId;
		key.userid = userid;
		key.op = (int32) op;
		strncpy(key.server, server, CS_SERVER_LEN - 1);
		e = hash_search(cs_hash, &key, HASH_FIND, NULL);
		if (e == NULL)
		{
			LWLockRelease(cs_state->lock);
			LWLockAcquire(cs_state->lock, LW_EXCLUSIVE);
			e = cs_enter(&key);
			if (e == NULL)
			{
				LWLockRelease(cs_state->lock);
				return;
			}
		}
		if (cell != NULL)
		{
			cell->entry = e;
			cell->generation = cs_state->generation;
			cell->userid = userid;
		}
	}

	total_ms = INSTR_TIME_GET_MILLISEC(elapsed);
	ms = total_ms / ncalls;		/* each call's, for min and max */
	SpinLockAcquire(&e->mutex);
	if (e->calls == 0 || ms < e->min_ms)
		e->min_ms = ms;
	if (e->calls == 0 || ms > e->max_ms)
		e->max_ms = ms;
	e->calls += ncalls;
	if (outcome == PMC_HIT)
		e->hits += ncalls;
	else if (outcome == PMC_MISS)
		e->misses += ncalls;
	else
		e->errors += ncalls;
	e->bytes_sent += sent;
	e->bytes_received += received;
	e->total_ms += total_ms;
	e->usage += (double) ncalls;
	SpinLockRelease(&e->mutex);
	LWLockRelease(cs_state->lock);
}

/* ERROR unless the shared counters exist */
static void
cs_check_available(void)
{
	if (cs_hash == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the cluster-wide statistics of pylibmc_pg are not available"),
				 errdetail("They need the library in shared memory, which only a preloaded library gets."),
				 errhint("Add pylibmc_pg to shared_preload_libraries in postgresql.conf and restart the server.")));
}

PG_FUNCTION_INFO_V1(pylibmc_pg_cluster_stats);

/*
 * mc_cluster_stats(): one row per (database, role, server, operation).
 */
Datum
pylibmc_pg_cluster_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	ClusterEntry *e;

	cs_check_available();
	pmc_init_materialized_srf(fcinfo);
	LWLockAcquire(cs_state->lock, LW_SHARED);
	hash_seq_init(&seq, cs_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		ClusterEntry c;
		Datum		values[13];
		bool		nulls[13] = {0};

		SpinLockAcquire(&e->mutex);
		c = *e;
		SpinLockRelease(&e->mutex);
		if (c.calls == 0)
			continue;
		values[0] = ObjectIdGetDatum(c.key.dbid);
		values[1] = ObjectIdGetDatum(c.key.userid);
		values[2] = CStringGetTextDatum(c.key.server);
		values[3] = CStringGetTextDatum(pmc_op_name((PmcOp) c.key.op));
		values[4] = Int64GetDatum(c.calls);
		values[5] = Int64GetDatum(c.hits);
		values[6] = Int64GetDatum(c.misses);
		values[7] = Int64GetDatum(c.errors);
		values[8] = Int64GetDatum(c.bytes_sent);
		values[9] = Int64GetDatum(c.bytes_received);
		values[10] = Float8GetDatum(c.total_ms);
		values[11] = Float8GetDatum(c.min_ms);
		values[12] = Float8GetDatum(c.max_ms);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(cs_state->lock);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(pylibmc_pg_cluster_stats_info);

/*
 * mc_cluster_stats_info(): entries evicted and the time of the last reset.
 */
Datum
pylibmc_pg_cluster_stats_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {0};

	cs_check_available();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	LWLockAcquire(cs_state->lock, LW_SHARED);
	values[0] = Int64GetDatum(cs_state->evicted);
	values[1] = TimestampTzGetDatum(cs_state->stats_reset);
	LWLockRelease(cs_state->lock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

PG_FUNCTION_INFO_V1(pylibmc_pg_cluster_stats_reset);

/*
 * mc_cluster_stats_reset(): remove every entry; the eviction count starts
 * again from 0.
 */
Datum
pylibmc_pg_cluster_stats_reset(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS seq;
	ClusterEntry *e;

	cs_check_available();
	LWLockAcquire(cs_state->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, cs_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
		hash_search(cs_hash, &e->key, HASH_REMOVE, NULL);
	cs_state->evicted = 0;
	cs_state->stats_reset = GetCurrentTimestamp();
	cs_state->generation++;
	LWLockRelease(cs_state->lock);
	PG_RETURN_VOID();
}
