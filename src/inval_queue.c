/*-------------------------------------------------------------------------
 *
 * inval_queue.c
 *	  mc_delete_on_commit(): the queue of cache deletes that follow the
 *	  transaction, and its transaction callbacks.
 *
 * The model is NOTIFY (src/backend/commands/async.c): a pending set per
 * (sub)transaction nesting level, duplicates dropped, a committed
 * savepoint merged into its parent, an aborted one thrown away, PREPARE
 * refused, the real work after commit.
 *
 * A queued key is recorded with the configuration in force when it was
 * queued (inval_send.c: pmc_inval_config(), a small number): it is deleted
 * exactly as it was named then, under that namespace, on those servers,
 * over that protocol, whatever the settings are at COMMIT.  The same key
 * queued under two configurations is two entries.
 *
 * The levels form a stack; each level is a dynahash table keyed by
 * (configuration, key bytes), in a memory context of its own under
 * TopTransactionContext, so an entry is stored once per transaction and
 * nothing outlives the transaction.  An entry already pending at this or
 * any outer level is not added again: it is sent iff that outer level
 * commits, which is implied by ours committing.
 *
 *	- RELEASE SAVEPOINT (subtransaction commit): the level merges into its
 *	  parent (the smaller table is copied into the larger one), or is simply
 *	  relabelled when the parent has no level of its own.
 *	- ROLLBACK TO SAVEPOINT (subtransaction abort): the level and every
 *	  deeper one are dropped, so exactly the keys queued inside it go.
 *	- ROLLBACK: everything goes with TopTransactionContext.
 *	- PREPARE TRANSACTION with keys pending: ERROR (a prepared transaction
 *	  may commit in another session, long after ours ends).
 *	- COMMIT: XACT_EVENT_COMMIT (after the commit record) only takes the
 *	  queue aside.  The keys are sent from a resource-release callback in
 *	  phase RESOURCE_RELEASE_AFTER_LOCKS of the top transaction, that is
 *	  after the transaction's locks are released, so other writers waiting
 *	  on our rows go on while we talk to memcached, and still before COMMIT
 *	  returns: when it returns, the deletes have been applied.  Nothing
 *	  there may raise an ERROR: any error becomes a WARNING (inval_send.c),
 *	  and the queue is gone whatever happens.
 *
 *-------------------------------------------------------------------------
 */
#include "pylibmc_pg.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "common/hashfn.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

PG_FUNCTION_INFO_V1(pylibmc_pg_delete_on_commit);

/* hash key and entry: the key bytes live in the level's context */
typedef struct PendingKey
{
	const char *data;
	uint32		len;
	int			config;			/* inval_send.c's configuration number */
} PendingKey;

typedef struct PendingLevel
{
	int			nestingLevel;
	MemoryContext cxt;			/* child of TopTransactionContext */
	HTAB	   *keys;			/* of PendingKey */
	struct PendingLevel *upper;
} PendingLevel;

/* the innermost level with pending keys, or NULL */
static PendingLevel *pending = NULL;

/* between XACT_EVENT_COMMIT and the send after the locks: the queue */
static PendingLevel *committed = NULL;

static uint32
pending_key_hash(const void *key, Size keysize)
{
	const PendingKey *k = (const PendingKey *) key;

	return hash_bytes((const unsigned char *) k->data, (int) k->len) ^
		murmurhash32((uint32) k->config);
}

static int
pending_key_match(const void *key1, const void *key2, Size keysize)
{
	const PendingKey *a = (const PendingKey *) key1;
	const PendingKey *b = (const PendingKey *) key2;

	if (a->len != b->len || a->config != b->config)
		return 1;
	return memcmp(a->data, b->data, a->len);
}

static PendingLevel *
push_level(int nestingLevel)
{
	MemoryContext cxt;
	PendingLevel *level;
	HASHCTL		ctl;

	cxt = AllocSetContextCreate(TopTransactionContext,
								"pylibmc_pg delete_on_commit",
								ALLOCSET_DEFAULT_SIZES);
	level = MemoryContextAlloc(cxt, sizeof(PendingLevel));
	level->nestingLevel = nestingLevel;
	level->cxt = cxt;
	ctl.keysize = sizeof(PendingKey);
	ctl.entrysize = sizeof(PendingKey);
	ctl.hash = pending_key_hash;
	ctl.match = pending_key_match;
	ctl.hcxt = cxt;
	level->keys = hash_create("pylibmc_pg pending deletes", 64, &ctl,
							  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	level->upper = pending;
	pending = level;
	return level;
}

/* A copy of the key in the level's memory, NUL-terminated */
static char *
copy_to_level(PendingLevel *level, const char *key, size_t len)
{
	char	   *copy = MemoryContextAlloc(level->cxt, len + 1);

	memcpy(copy, key, len);
	copy[len] = '\0';
	return copy;
}

/* Add an entry to a level (at a merge of levels), copied into its memory */
static void
add_to_level(PendingLevel *level, const PendingKey *from)
{
	PendingKey	probe;
	PendingKey *entry;
	bool		found;
	/* copy first: an entry must never point at memory that goes away */
	char	   *copy = copy_to_level(level, from->data, from->len);

	probe.data = copy;
	probe.len = from->len;
	probe.config = from->config;
	entry = hash_search(level->keys, &probe, HASH_ENTER, &found);
	if (found)
		pfree(copy);
	else
		entry->data = copy;
}

/*
 * Queue a key (already in UTF-8, checked, without the namespace) for the
 * configuration pmc_inval_config() returned, unless some level has it.
 * The hash is computed once for every level's lookup and the insert.
 */
void
pmc_inval_queue(const char *key, size_t len, int config)
{
	int			my_level = GetCurrentTransactionNestLevel();
	PendingKey	probe;
	PendingKey *entry;
	uint32		hash;
	bool		found;
	char	   *copy;

	if (IsParallelWorker())
		elog(ERROR, "cannot queue memcached deletes in a parallel worker");

	probe.data = key;
	probe.len = (uint32) len;
	probe.config = config;
	hash = pending_key_hash(&probe, sizeof(probe));

	/*
	 * The usual case, one level (no savepoint queued anything): one
	 * HASH_ENTER both looks and inserts; a new entry gets its own copy of
	 * the key before anything else can run.
	 */
	if (pending != NULL && pending->upper == NULL && pending->nestingLevel == my_level)
	{
		entry = hash_search_with_hash_value(pending->keys, &probe, hash, HASH_ENTER, &found);
		if (!found)
			entry->data = copy_to_level(pending, key, len);
		return;
	}

	for (PendingLevel *l = pending; l != NULL; l = l->upper)
		if (hash_search_with_hash_value(l->keys, &probe, hash, HASH_FIND, NULL) != NULL)
			return;

	if (pending == NULL || pending->nestingLevel < my_level)
		push_level(my_level);
	/* copy first: an entry must never point at memory that goes away */
	copy = copy_to_level(pending, key, len);
	probe.data = copy;
	entry = hash_search_with_hash_value(pending->keys, &probe, hash, HASH_ENTER, &found);
	Assert(!found);
	entry->data = copy;
}

static long
pending_count(void)
{
	long		n = 0;

	for (PendingLevel *l = pending; l != NULL; l = l->upper)
		n += hash_get_num_entries(l->keys);
	return n;
}

/* RELEASE SAVEPOINT: the committed level joins its parent */
static void
at_subcommit(int my_level)
{
	PendingLevel *child = pending;
	PendingLevel *parent;
	PendingLevel *from;
	PendingLevel *into;
	HASH_SEQ_STATUS seq;
	PendingKey *entry;

	if (child == NULL || child->nestingLevel < my_level)
		return;
	parent = child->upper;
	if (parent == NULL || parent->nestingLevel < my_level - 1)
	{
		child->nestingLevel = my_level - 1;
		return;
	}

	/* copy the smaller table into the larger one; the larger one stays */
	if (hash_get_num_entries(child->keys) > hash_get_num_entries(parent->keys))
	{
		from = parent;
		into = child;
	}
	else
	{
		from = child;
		into = parent;
	}
	hash_seq_init(&seq, from->keys);
	while ((entry = hash_seq_search(&seq)) != NULL)
		add_to_level(into, entry);

	into->nestingLevel = my_level - 1;
	into->upper = parent->upper;
	pending = into;
	MemoryContextDelete(from->cxt);
}

/* ROLLBACK TO SAVEPOINT: drop what the aborted level (and deeper) queued */
static void
at_subabort(int my_level)
{
	while (pending != NULL && pending->nestingLevel >= my_level)
	{
		PendingLevel *level = pending;

		pending = level->upper;
		MemoryContextDelete(level->cxt);
	}
}

static int
compare_config(const void *a, const void *b)
{
	const PendingKey *x = *(PendingKey *const *) a;
	const PendingKey *y = *(PendingKey *const *) b;

	return (x->config > y->config) - (x->config < y->config);
}

/*
 * After the commit, with the locks released: send the queue, one batch
 * per configuration.  Never raises an ERROR (inval_send.c warns); the
 * queue is gone afterwards whatever happened.
 */
static void
send_committed(void)
{
	PendingLevel *level = committed;
	MemoryContext oldcxt;
	HASH_SEQ_STATUS seq;
	PendingKey *entry;
	PendingKey **entries;
	const char **keys;
	uint32	   *lens;
	long		nkeys;
	long		i = 0;
	int			hold = pmc_invalidation_hold;

	committed = NULL;
	/* every savepoint was closed before the commit: one level left */
	Assert(level->upper == NULL);

	oldcxt = MemoryContextSwitchTo(level->cxt);
	nkeys = hash_get_num_entries(level->keys);

	/*
	 * The transaction has committed: an ERROR here would be a PANIC.  No
	 * memory for the arrays (or more keys than 1 GB of pointers) is a
	 * WARNING, and those entries may stay stale until they expire.
	 */
	entries = palloc_extended(Max(nkeys, 1) * sizeof(PendingKey *),
							  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
	keys = palloc_extended(Max(nkeys, 1) * sizeof(char *),
						   MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
	lens = palloc_extended(Max(nkeys, 1) * sizeof(uint32),
						   MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
	if (entries == NULL || keys == NULL || lens == NULL)
	{
		ereport(WARNING,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not send the %ld deletes queued by mc_delete_on_commit: out of memory", nkeys),
				 errhint("The transaction committed; those cache entries may be stale until they expire.")));
		MemoryContextSwitchTo(oldcxt);
		MemoryContextDelete(level->cxt);
		pmc_inval_unpin_all();
		return;
	}
	hash_seq_init(&seq, level->keys);
	while ((entry = hash_seq_search(&seq)) != NULL)
		entries[i++] = entry;
	/* group the keys by configuration (usually there is only one) */
	for (i = 1; i < nkeys; i++)
		if (entries[i]->config != entries[0]->config)
		{
			qsort(entries, nkeys, sizeof(PendingKey *), compare_config);
			break;
		}
	for (i = 0; i < nkeys; i++)
	{
		keys[i] = entries[i]->data;
		lens[i] = entries[i]->len;
	}
	for (long start = 0, end; start < nkeys; start = end)
	{
		for (end = start + 1; end < nkeys && entries[end]->config == entries[start]->config; end++)
			;
		pmc_inval_send(entries[start]->config, keys + start, lens + start,
					   end - start, hold);
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(level->cxt);
	pmc_inval_unpin_all();
}

static void
invalidation_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (pending != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has queued memcached deletes"),
						 errdetail("%ld key(s) were queued by mc_delete_on_commit or mc_invalidate.",
								   pending_count()),
						 errhint("Commit without two-phase commit, or delete the keys after COMMIT PREPARED.")));
			break;
		case XACT_EVENT_COMMIT:
			/* sent once the locks are released: invalidation_release_callback */
			committed = pending;
			pending = NULL;
			if (committed == NULL)
				pmc_inval_unpin_all();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			/* the memory goes with TopTransactionContext */
			pending = NULL;
			committed = NULL;
			pmc_inval_unpin_all();
			break;
		default:
			break;
	}
}

static void
invalidation_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							  SubTransactionId parentSubid, void *arg)
{
	if (pending == NULL)
		return;
	if (event == SUBXACT_EVENT_COMMIT_SUB)
		at_subcommit(GetCurrentTransactionNestLevel());
	else if (event == SUBXACT_EVENT_ABORT_SUB)
		at_subabort(GetCurrentTransactionNestLevel());
}

/*
 * CommitTransaction() releases the top transaction's resource owner in
 * three phases after XACT_EVENT_COMMIT; in the last one the locks are gone
 * and TopTransactionContext, which holds the queue, still exists.
 */
static void
invalidation_release_callback(ResourceReleasePhase phase, bool isCommit,
							  bool isTopLevel, void *arg)
{
	if (committed == NULL || phase != RESOURCE_RELEASE_AFTER_LOCKS || !isTopLevel)
		return;
	if (!isCommit)
	{
		committed = NULL;
		return;
	}
	send_committed();
}

void
pmc_invalidation_init(void)
{
	RegisterXactCallback(invalidation_xact_callback, NULL);
	RegisterSubXactCallback(invalidation_subxact_callback, NULL);
	RegisterResourceReleaseCallback(invalidation_release_callback, NULL);
}

/* ---------- mc_delete_on_commit(key) ---------- */

Datum
pylibmc_pg_delete_on_commit(PG_FUNCTION_ARGS)
{
	size_t		len;
	char	   *key = pmc_key_from_text(PG_GETARG_TEXT_PP(0), &len);

	pmc_inval_queue(key, len, pmc_inval_config());
	PG_RETURN_VOID();
}
