/*-------------------------------------------------------------------------
 *
 * invalidate.c
 *	  mc_delete_on_commit() and the mc_invalidate() trigger: cache deletes
 *	  that follow the transaction.
 *
 * The queue (the model is NOTIFY, src/backend/commands/async.c)
 * -------------------------------------------------------------
 * mc_delete_on_commit(key) checks the key and adds it to the pending set
 * of the current (sub)transaction nesting level.  The levels form a stack;
 * each level is a dynahash table keyed by the key string, in a memory
 * context of its own under TopTransactionContext, so a key is stored once
 * per transaction and nothing outlives the transaction.  A key already
 * pending at this or any outer level is not added again: it is sent iff
 * that outer level commits, which is implied by ours committing.
 *
 *	- RELEASE SAVEPOINT (subtransaction commit): the level merges into its
 *	  parent (the smaller table is copied into the larger one), or is simply
 *	  relabelled when the parent has no level of its own.
 *	- ROLLBACK TO SAVEPOINT (subtransaction abort): the level and every
 *	  deeper one are dropped, so exactly the keys queued inside it go.
 *	- ROLLBACK: everything goes with TopTransactionContext.
 *	- PREPARE TRANSACTION with keys pending: ERROR (a prepared transaction
 *	  may commit in another session, long after ours ends).
 *	- COMMIT: in XACT_EVENT_COMMIT, after the commit record, every key is
 *	  sent once.  Nothing there may raise an ERROR (the transaction cannot
 *	  be aborted any more): any error, pmc_client()'s included, becomes a
 *	  WARNING, and the queue is cleared whatever happens.  A server failure
 *	  is a WARNING naming the count of keys not deleted; the commit stands.
 *	  pylibmc_pg.on_error = 'ignore' silences that warning.
 *
 * How the batch is sent (measured with libmemcached 1.1.4, memcached 1.6):
 *	- ASCII protocol: the keys go through a second client (the same
 *	  settings, client.c: pmc_batch_client) with MEMCACHED_BEHAVIOR_NOREPLY
 *	  ("delete k noreply": the server sends nothing back, not even for a
 *	  missing key, so the connection cannot desynchronise) and
 *	  MEMCACHED_BEHAVIOR_BUFFER_REQUESTS set for good,
 *	  flushed every PMC_BATCH_KEYS keys.  A key that client would route
 *	  elsewhere than the main client (a server ejected by one of them only)
 *	  is deleted through the main client instead, acknowledged.
 *	  Then one get per server that received deletes, on the same
 *	  connection, is a barrier: memcached handles a connection's commands
 *	  in order, so when the reply comes back every delete before it has
 *	  been applied (and a failed server shows up).  Setting those
 *	  behaviors on the main client for each batch instead made libmemcached
 *	  close its connections each time (measured: the reconnects cost more
 *	  than a 10,000-key batch).
 *	- Binary protocol: one acknowledged delete per key.  Quiet deletes
 *	  (DELETEQ) answer a missing key with an error packet that libmemcached
 *	  does not expect: the next call reads it as its own reply (a wrong
 *	  miss); and buffered deletes whose replies are never read stall the
 *	  server, which drops the rest when the connection is closed.
 *	- UDP: libmemcached sends without replies anyway; no barrier possible.
 *	After the first failure on a server its remaining keys are skipped, so
 *	a dead server costs one connect timeout, not one per key.
 *
 * The mc_invalidate() trigger
 * ---------------------------
 * CREATE TRIGGER ... AFTER INSERT OR UPDATE OR DELETE ON t FOR EACH ROW
 * EXECUTE FUNCTION mc_invalidate('user:{id}', 'user_email:{email}');
 *
 * Each argument is a key template.  "{column}" is replaced by the value of
 * that column (the exact column name, case and all, no quoting), formatted
 * with the column type's output function; "{{" and "}}" stand for literal
 * braces.  INSERT uses NEW, DELETE uses OLD, UPDATE both: the key from OLD
 * and the key from NEW are queued (once if they are the same), so changing
 * an email invalidates the old and the new email's entries.  The keys go
 * through the queue above.
 *	- A NULL column: the key that needs it is skipped for that row version
 *	  (there is no key for NULL); the other templates still apply.
 *	- A key that comes out invalid (empty, too long, a space or control
 *	  character, e.g. from a text column holding a space): ERROR, as for any
 *	  bad key, which aborts the statement.  Hash such values in a generated
 *	  column, or key on the primary key.
 *	- A template naming a column the table lacks: ERROR 42703 at the first
 *	  firing, naming the column and the table.  A malformed template (a "{"
 *	  not closed, a lone "}", "{}"): ERROR 22023 at the first firing.
 *	- It must be fired FOR EACH ROW (BEFORE, AFTER or INSTEAD OF; AFTER is
 *	  the one to use: it sees the final row).  Statement-level firing is an
 *	  error.
 * The templates are parsed and the columns resolved once per statement
 * (cached in fn_extra, keyed by trigger and relation: a trigger on a
 * partitioned table is cloned to each partition, whose columns may sit at
 * other positions), not once per row.
 *
 *-------------------------------------------------------------------------
 */
#include "pylibmc_pg.h"

#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(pylibmc_pg_delete_on_commit);
PG_FUNCTION_INFO_V1(pylibmc_pg_invalidate);

/* ASCII batches are flushed every this many keys */
#define PMC_BATCH_KEYS			1000

/* ---------- the pending queue ---------- */

/* hash key and entry: the key bytes live in the level's context */
typedef struct PendingKey
{
	const char *data;
	uint32		len;
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

static uint32
pending_key_hash(const void *key, Size keysize)
{
	const PendingKey *k = (const PendingKey *) key;

	return hash_bytes((const unsigned char *) k->data, (int) k->len);
}

static int
pending_key_match(const void *key1, const void *key2, Size keysize)
{
	const PendingKey *a = (const PendingKey *) key1;
	const PendingKey *b = (const PendingKey *) key2;

	if (a->len != b->len)
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

/* Add a key to a level (at a merge of levels), copied into its memory */
static void
add_to_level(PendingLevel *level, const char *key, size_t len)
{
	PendingKey	probe;
	PendingKey *entry;
	bool		found;
	/* copy first: an entry must never point at memory that goes away */
	char	   *copy = copy_to_level(level, key, len);

	probe.data = copy;
	probe.len = (uint32) len;
	entry = hash_search(level->keys, &probe, HASH_ENTER, &found);
	if (found)
		pfree(copy);
	else
		entry->data = copy;
}

/*
 * Queue a key (already in UTF-8, checked) unless some level has it.  The
 * hash is computed once for every level's lookup and the insert.
 */
static void
queue_key(const char *key, size_t len)
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
	hash = pending_key_hash(&probe, sizeof(probe));
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
		add_to_level(into, entry->data, entry->len);

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

/* ---------- sending at commit ---------- */

typedef struct SendState
{
	memcached_st *mc;			/* the client the batch goes through */
	memcached_st *route;		/* the main client: its routing is the truth */
	uint32_t	nservers;
	long	   *sent;			/* per server: keys sent */
	long	   *failed;			/* per server: keys not deleted */
	bool	   *dead;			/* per server: failed, skip its other keys */
	int		   *last;			/* per server: index of the last key sent */
	const char **keys;			/* all keys, in send order */
	uint32	   *lens;
	long		nkeys;
	memcached_return_t first_rc;
	int			first_server;	/* -1: no failure yet */
	int			first_errno;
} SendState;

static void
note_failure(SendState *st, int server, memcached_return_t rc)
{
	if (st->first_server < 0)
	{
		st->first_server = server;
		st->first_rc = rc;
		st->first_errno = memcached_last_error_errno(st->mc);
	}
}

static uint32_t
server_of(SendState *st, const char *key, size_t len)
{
	uint32_t	s;

	if (st->nservers <= 1)
		return 0;
	s = memcached_generate_hash(st->route, key, len);
	return s < st->nservers ? s : 0;
}

static char *
server_name(memcached_st *mc, int index)
{
	const memcached_instance_st *inst;

	if (index < 0 || (uint32_t) index >= memcached_server_count(mc))
		return pstrdup("(unknown)");
	inst = memcached_server_instance_by_position(mc, (uint32_t) index);
	return pmc_instance_name(inst);
}

/*
 * Send every key.  May ERROR (the caller turns it into a WARNING).  In
 * ASCII, st->mc is the batch client (quiet, buffered): the keys go out in
 * writes of libmemcached's buffer size, flushed every PMC_BATCH_KEYS keys
 * so the server works while we still send, then the barrier.
 */
static void
send_keys(SendState *st, bool quiet)
{
	memcached_st *mc = st->mc;
	long		since_flush = 0;

	pmc_io_begin();
	for (long i = 0; i < st->nkeys; i++)
	{
		const char *key = st->keys[i];
		size_t		len = st->lens[i];
		uint32_t	s = server_of(st, key, len);
		memcached_st *via = mc;
		bool		buffered = quiet;
		memcached_return_t rc;
		instr_time	start;
		PmcOutcome	outcome = PMC_HIT;

		/*
		 * Each client keeps its own record of failed servers: while one of
		 * them has ejected a server (remove_failed) and the other has not,
		 * they route some keys differently.  Such a key goes where the main
		 * client, which wrote it, routes it: acknowledged, as in binary.
		 */
		if (quiet && st->nservers > 1 && memcached_generate_hash(mc, key, len) != s)
		{
			via = st->route;
			buffered = false;
		}

		if (st->dead[s])
		{
			/* this server already failed in this batch: skip its keys */
			st->failed[s]++;
			continue;
		}

		INSTR_TIME_SET_CURRENT(start);
		rc = memcached_delete(via, key, len, 0);
		switch (rc)
		{
			case MEMCACHED_SUCCESS:
			case MEMCACHED_DELETED:
			case MEMCACHED_BUFFERED:
				st->sent[s]++;
				if (buffered)
					st->last[s] = (int) i;	/* the barrier's key for s */
				break;
			case MEMCACHED_NOTFOUND:
				st->sent[s]++;
				outcome = PMC_MISS;
				break;
			default:
				st->failed[s]++;
				outcome = PMC_ERROR;
				note_failure(st, (int) s, rc);
				if (pmc_rc_is_server_failure(rc))
					st->dead[s] = true;
				break;
		}
		pmc_stats_count_server(s, PMC_OP_INVALIDATE, outcome, len, 0, start);

		if (buffered && ++since_flush >= PMC_BATCH_KEYS)
		{
			(void) memcached_flush_buffers(mc);
			since_flush = 0;
		}
	}

	/*
	 * Barrier: one get per server that got quiet deletes, on the same
	 * connection (the get flushes what is still buffered first).  Its
	 * reply proves the deletes before it were applied.
	 */
	if (quiet)
	{
		for (uint32_t s = 0; s < st->nservers; s++)
		{
			size_t		vlen;
			uint32_t	flags;
			memcached_return_t rc;
			char	   *value;
			int			k = st->last[s];

			if (k < 0)
				continue;
			value = memcached_get(mc, st->keys[k], st->lens[k], &vlen, &flags, &rc);
			if (value)
				free(value);
			if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_NOTFOUND)
			{
				/* not known to be applied: count the server's keys failed */
				st->failed[s] += st->sent[s];
				st->sent[s] = 0;
				note_failure(st, (int) s, rc);
			}
		}
	}
	pmc_io_end();
}

static void
report_failures(SendState *st)
{
	long		nfailed = 0;
	char	   *server;
	const char *reason;

	for (uint32_t s = 0; s < st->nservers; s++)
		nfailed += st->failed[s];
	if (nfailed == 0 && st->first_server < 0)
		return;
	if (pmc_rc_is_server_failure(st->first_rc) && pmc_on_error == PMC_ON_ERROR_IGNORE)
		return;
	server = server_name(st->mc, st->first_server);
	reason = memcached_strerror(st->mc, st->first_rc);
	ereport(WARNING,
			(errcode(pmc_rc_is_server_failure(st->first_rc) ?
					 ERRCODE_CONNECTION_FAILURE : ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("could not delete %ld of %ld keys queued by mc_delete_on_commit",
					nfailed, st->nkeys),
			 (st->first_rc == MEMCACHED_ERRNO && st->first_errno != 0) ?
			 errdetail("Memcached server %s: libmemcached: %s: %s.", server, reason,
					   strerror(st->first_errno)) :
			 errdetail("Memcached server %s: libmemcached: %s.", server, reason),
			 errhint("The transaction committed; those cache entries may be stale until they expire.")));
}

/*
 * XACT_EVENT_COMMIT: send the queue.  Never raises an ERROR; the queue is
 * gone afterwards whatever happened.
 */
static void
send_pending_at_commit(void)
{
	PendingLevel *level = pending;
	MemoryContext oldcxt = CurrentMemoryContext;
	MemoryContext workcxt;
	SendState	st;
	memcached_st *volatile mc = NULL;

	pending = NULL;
	if (level == NULL)
		return;
	/* every savepoint is closed by now, so there is one level left */
	Assert(level->upper == NULL);

	workcxt = AllocSetContextCreate(TopTransactionContext,
									"pylibmc_pg delete_on_commit send",
									ALLOCSET_DEFAULT_SIZES);
	PG_TRY();
	{
		HASH_SEQ_STATUS seq;
		PendingKey *entry;
		long		i = 0;
		bool		quiet;

		MemoryContextSwitchTo(workcxt);
		memset(&st, 0, sizeof(st));
		st.first_server = -1;
		/* (a key is never pending at two levels: no duplicates here) */
		for (PendingLevel *l = level; l != NULL; l = l->upper)
			st.nkeys += hash_get_num_entries(l->keys);
		st.keys = palloc(Max(st.nkeys, 1) * sizeof(char *));
		st.lens = palloc(Max(st.nkeys, 1) * sizeof(uint32));
		for (PendingLevel *l = level; l != NULL; l = l->upper)
		{
			hash_seq_init(&seq, l->keys);
			while ((entry = hash_seq_search(&seq)) != NULL)
			{
				st.keys[i] = entry->data;
				st.lens[i] = entry->len;
				i++;
			}
		}

		mc = pmc_client();
		st.route = mc;
		/* ASCII over TCP or a socket: quiet deletes and a barrier */
		quiet = !pmc_client_is_udp() &&
			memcached_behavior_get(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL) == 0;
		if (quiet)
			mc = pmc_batch_client();
		st.mc = mc;
		st.nservers = Max(memcached_server_count(mc), 1);
		st.sent = palloc0(st.nservers * sizeof(long));
		st.failed = palloc0(st.nservers * sizeof(long));
		st.dead = palloc0(st.nservers * sizeof(bool));
		st.last = palloc(st.nservers * sizeof(int));
		for (uint32_t s = 0; s < st.nservers; s++)
			st.last[s] = -1;

		send_keys(&st, quiet);
		if (st.first_server >= 0)
			pmc_disconnect_all();	/* a failed server may have left a reply */
		report_failures(&st);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(workcxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (mc != NULL)
			pmc_disconnect_all();
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("could not send the deletes queued by mc_delete_on_commit: %s",
						edata->message),
				 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
				 errhint("The transaction committed; those cache entries may be stale until they expire.")));
		FreeErrorData(edata);
	}
	PG_END_TRY();

	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(workcxt);
	for (PendingLevel *l = level, *upper; l != NULL; l = upper)
	{
		upper = l->upper;
		MemoryContextDelete(l->cxt);
	}
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
			send_pending_at_commit();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			/* the memory goes with TopTransactionContext */
			pending = NULL;
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

void
pmc_invalidation_init(void)
{
	RegisterXactCallback(invalidation_xact_callback, NULL);
	RegisterSubXactCallback(invalidation_subxact_callback, NULL);
}

/* ---------- mc_delete_on_commit(key) ---------- */

Datum
pylibmc_pg_delete_on_commit(PG_FUNCTION_ARGS)
{
	size_t		len;
	char	   *key = pmc_key_from_text(PG_GETARG_TEXT_PP(0), &len);

	queue_key(key, len);
	PG_RETURN_VOID();
}

/* ---------- the mc_invalidate() trigger ---------- */

typedef struct TemplatePart
{
	const char *literal;		/* NULL for a column */
	int			len;			/* of the literal */
	AttrNumber	attnum;			/* for a column */
	Oid			typid;			/* the column's type, its storage, output */
	bool		typbyval;
	int16		typlen;
	FmgrInfo	outfn;
} TemplatePart;

typedef struct KeyTemplate
{
	int			nparts;
	TemplatePart *parts;
} KeyTemplate;

typedef struct TriggerCache
{
	Oid			tgoid;
	Oid			relid;
	int			ntemplates;
	KeyTemplate *templates;
} TriggerCache;

static void
template_syntax_error(const char *tmpl, const char *trigger, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid mc_invalidate key template \"%s\" in trigger \"%s\"",
					tmpl, trigger),
			 errdetail("%s", problem),
			 errhint("Write {column} for a column's value and {{ or }} for a literal brace.")));
}

static void
add_part(List **parts, const char *literal, int len, AttrNumber attnum)
{
	TemplatePart *p = palloc0(sizeof(TemplatePart));

	p->literal = literal;
	p->len = len;
	p->attnum = attnum;
	*parts = lappend(*parts, p);
}

/* Parse one template against the relation; in the cache's context */
static void
parse_template(const char *tmpl, Relation rel, const char *trigger,
			   MemoryContext cxt, KeyTemplate *out)
{
	TupleDesc	desc = RelationGetDescr(rel);
	List	   *parts = NIL;
	StringInfoData lit;
	const char *p = tmpl;
	int			i;
	ListCell   *lc;

	initStringInfo(&lit);
	while (*p)
	{
		if (p[0] == '{' && p[1] == '{')
		{
			appendStringInfoChar(&lit, '{');
			p += 2;
		}
		else if (p[0] == '}' && p[1] == '}')
		{
			appendStringInfoChar(&lit, '}');
			p += 2;
		}
		else if (p[0] == '}')
			template_syntax_error(tmpl, trigger, "A single \"}\" must be written \"}}\".");
		else if (p[0] == '{')
		{
			const char *end = strchr(p + 1, '}');
			char	   *name;
			AttrNumber	attnum = InvalidAttrNumber;

			if (end == NULL)
				template_syntax_error(tmpl, trigger, "A \"{\" is not closed by \"}\".");
			if (end == p + 1)
				template_syntax_error(tmpl, trigger, "\"{}\" names no column.");
			name = pnstrdup(p + 1, end - p - 1);
			for (i = 0; i < desc->natts; i++)
			{
				Form_pg_attribute att = TupleDescAttr(desc, i);

				if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
				{
					attnum = att->attnum;
					break;
				}
			}
			if (attnum == InvalidAttrNumber)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("column \"%s\" of relation \"%s\" does not exist",
								name, RelationGetRelationName(rel)),
						 errdetail("Key template \"%s\" of trigger \"%s\" names it.",
								   tmpl, trigger),
						 errhint("Column names in {} are matched exactly, case included.")));
			if (lit.len > 0)
			{
				add_part(&parts, MemoryContextStrdup(cxt, lit.data), lit.len, 0);
				resetStringInfo(&lit);
			}
			add_part(&parts, NULL, 0, attnum);
			p = end + 1;
		}
		else
			appendStringInfoChar(&lit, *p++);
	}
	if (lit.len > 0)
		add_part(&parts, MemoryContextStrdup(cxt, lit.data), lit.len, 0);

	out->nparts = list_length(parts);
	out->parts = MemoryContextAlloc(cxt, Max(out->nparts, 1) * sizeof(TemplatePart));
	i = 0;
	foreach(lc, parts)
	{
		TemplatePart *src = lfirst(lc);
		TemplatePart *dst = &out->parts[i++];

		*dst = *src;
		if (dst->literal == NULL)
		{
			Form_pg_attribute att = TupleDescAttr(desc, dst->attnum - 1);
			Oid			typoutput;
			bool		isvarlena;

			dst->typid = att->atttypid;
			dst->typbyval = att->attbyval;
			dst->typlen = att->attlen;
			getTypeOutputInfo(att->atttypid, &typoutput, &isvarlena);
			fmgr_info_cxt(typoutput, &dst->outfn, cxt);
		}
	}
}

static TriggerCache *
trigger_cache(FunctionCallInfo fcinfo, TriggerData *td)
{
	TriggerCache *cache = (TriggerCache *) fcinfo->flinfo->fn_extra;
	Trigger    *tg = td->tg_trigger;
	Oid			relid = RelationGetRelid(td->tg_relation);
	MemoryContext cxt = fcinfo->flinfo->fn_mcxt;
	MemoryContext old;

	if (cache != NULL && cache->tgoid == tg->tgoid && cache->relid == relid)
		return cache;

	if (tg->tgnargs < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("trigger \"%s\" gives mc_invalidate() no key template", tg->tgname),
				 errhint("Pass key templates as arguments: EXECUTE FUNCTION mc_invalidate('user:{id}').")));

	old = MemoryContextSwitchTo(cxt);
	cache = palloc0(sizeof(TriggerCache));
	cache->ntemplates = tg->tgnargs;
	cache->templates = palloc0(tg->tgnargs * sizeof(KeyTemplate));
	for (int i = 0; i < tg->tgnargs; i++)
		parse_template(tg->tgargs[i], td->tg_relation, tg->tgname, cxt,
					   &cache->templates[i]);
	cache->tgoid = tg->tgoid;
	cache->relid = relid;
	MemoryContextSwitchTo(old);
	/* a previous cache (another relation) stays in fn_mcxt until its end */
	fcinfo->flinfo->fn_extra = cache;
	return cache;
}

/*
 * A column's text form, as its output function writes it.  Integer keys
 * (the usual case) skip the fmgr call and its palloc: pg_ltoa and
 * pg_lltoa are what int4out and int8out use.
 */
static void
append_column_text(StringInfo buf, TemplatePart *p, Datum value)
{
	char		digits[MAXINT8LEN + 1];

	switch (p->typid)
	{
		case INT2OID:
			pg_ltoa((int32) DatumGetInt16(value), digits);
			break;
		case INT4OID:
			pg_ltoa(DatumGetInt32(value), digits);
			break;
		case INT8OID:
			pg_lltoa(DatumGetInt64(value), digits);
			break;
		default:
			appendStringInfoString(buf, OutputFunctionCall(&p->outfn, value));
			return;
	}
	appendStringInfoString(buf, digits);
}

/*
 * Do two row versions give a template the same key?  True when every
 * column it uses is NULL in both or has the same bytes in both (the usual
 * UPDATE, which leaves the key columns alone); false may still mean equal
 * keys, which the caller then finds by comparing them.
 */
static bool
same_key_columns(KeyTemplate *t, HeapTuple a, HeapTuple b, TupleDesc desc)
{
	for (int i = 0; i < t->nparts; i++)
	{
		TemplatePart *p = &t->parts[i];
		Datum		va,
					vb;
		bool		na,
					nb;

		if (p->literal != NULL)
			continue;
		va = heap_getattr(a, p->attnum, desc, &na);
		vb = heap_getattr(b, p->attnum, desc, &nb);
		if (na != nb)
			return false;
		if (!na && !datumIsEqual(va, vb, p->typbyval, p->typlen))
			return false;
	}
	return true;
}

/*
 * The key of one template for one row version, in UTF-8, or NULL when a
 * column it needs is NULL.
 */
static char *
build_key(KeyTemplate *t, HeapTuple tuple, TupleDesc desc, StringInfo buf, size_t *len)
{
	char	   *utf8;

	resetStringInfo(buf);
	for (int i = 0; i < t->nparts; i++)
	{
		TemplatePart *p = &t->parts[i];
		Datum		value;
		bool		isnull;

		if (p->literal != NULL)
		{
			appendBinaryStringInfo(buf, p->literal, p->len);
			continue;
		}
		value = heap_getattr(tuple, p->attnum, desc, &isnull);
		if (isnull)
			return NULL;
		append_column_text(buf, p, value);
	}
	utf8 = pg_server_to_any(buf->data, buf->len, PG_UTF8);
	*len = (utf8 == buf->data) ? (size_t) buf->len : strlen(utf8);
	if (utf8 == buf->data)
		utf8 = pnstrdup(buf->data, buf->len);
	pmc_check_key(utf8, *len);
	return utf8;
}

Datum
pylibmc_pg_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TriggerCache *cache;
	TupleDesc	desc;
	HeapTuple	oldtuple = NULL;
	HeapTuple	newtuple = NULL;
	HeapTuple	result;
	StringInfoData buf;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mc_invalidate() was not called by the trigger manager"),
				 errhint("Use it in CREATE TRIGGER ... FOR EACH ROW EXECUTE FUNCTION mc_invalidate('key:{column}'); call mc_delete_on_commit() directly otherwise.")));
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mc_invalidate() must be fired FOR EACH ROW"),
				 errdetail("Trigger \"%s\" is a statement-level trigger.", td->tg_trigger->tgname)));

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		newtuple = td->tg_trigtuple;
		result = newtuple;
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		oldtuple = td->tg_trigtuple;
		newtuple = td->tg_newtuple;
		result = newtuple;
	}
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		oldtuple = td->tg_trigtuple;
		result = oldtuple;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mc_invalidate() must be fired by INSERT, UPDATE or DELETE")));

	cache = trigger_cache(fcinfo, td);
	desc = RelationGetDescr(td->tg_relation);
	initStringInfo(&buf);
	for (int i = 0; i < cache->ntemplates; i++)
	{
		KeyTemplate *t = &cache->templates[i];
		char	   *oldkey = NULL;
		char	   *newkey = NULL;
		size_t		oldlen = 0;
		size_t		newlen = 0;

		if (oldtuple != NULL)
			oldkey = build_key(t, oldtuple, desc, &buf, &oldlen);
		if (oldkey != NULL)
			queue_key(oldkey, oldlen);
		if (newtuple == NULL ||
			(oldtuple != NULL && same_key_columns(t, oldtuple, newtuple, desc)))
			continue;
		newkey = build_key(t, newtuple, desc, &buf, &newlen);
		if (newkey != NULL &&
			!(oldkey != NULL && oldlen == newlen && memcmp(oldkey, newkey, newlen) == 0))
			queue_key(newkey, newlen);
	}
	pfree(buf.data);

	return PointerGetDatum(result);
}
