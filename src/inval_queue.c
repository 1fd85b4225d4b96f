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
 * The queue is one log of records (configuration, length, key bytes) in
 * the order they were queued, with a hash table of the records in memory
 * (simplehash, keyed by the record's offset) that drops duplicates: a key
 * already pending is not added again, whichever (sub)transaction level
 * queued it, since an outer level's key is sent iff that level commits,
 * which is implied by ours committing.  About 20 bytes of log and 15 of
 * hash table per key of 16 bytes.  The queue's own state lives in a
 * memory context under TopTransactionContext; the log and the hash table
 * in a long-lived one, kept (emptied) for the next transaction when they
 * are small (keep_buffers()).
 *
 * Memory is bounded: when the log and the hash table would grow beyond
 * work_mem (as it was when the transaction queued its first key), the log
 * is written to a temporary file (fd.c's, opened interXact, so the
 * resource owner does not close it before the send after commit) and the
 * hash table starts afresh: past that point a key may be sent twice (the
 * second delete finds nothing; each counts in mc_client_stats).  At
 * commit the file is read back in pieces and sent, then the records still
 * in memory; the file is closed after the send, and on abort.  The file
 * is written and read at explicit offsets, with no buffer of its own (not
 * a BufFile): a write that fails (temp_file_limit, a full disk) leaves
 * the file's records before it as they were, and nothing pending that a
 * later seek or read would try to write again, so a savepoint rolled back
 * over the failure keeps every record queued before it.
 *
 *	- Savepoints: each (sub)transaction level that queues records where
 *	  the log was when it began; levels form a stack.  RELEASE SAVEPOINT
 *	  (subtransaction commit) merges a level into its parent (the parent's
 *	  start stays) or relabels it.  ROLLBACK TO SAVEPOINT (subtransaction
 *	  abort) cuts the log back where the outermost aborted level began:
 *	  everything after it was queued inside the aborted subtransaction,
 *	  since an outer level cannot queue while an inner one is open.  Cut
 *	  in memory, the hash table is rebuilt from the records kept; cut in
 *	  the file, the next spill writes over the rest.
 *	- ROLLBACK: the queue's state goes with TopTransactionContext, the
 *	  file is closed, the log and hash table are emptied (or freed).
 *	- PREPARE TRANSACTION with keys pending: ERROR (a prepared transaction
 *	  may commit in another session, long after ours ends).
 *	- Before the commit record (XACT_EVENT_PRE_COMMIT), with
 *	  pylibmc_pg.invalidation_log on: the queue, final now, is written into
 *	  the WAL in the runs it will be sent in (inval_log.c); after the send,
 *	  whether every key was acknowledged is recorded there too.
 *	- COMMIT: XACT_EVENT_COMMIT (after the commit record) only takes the
 *	  queue aside.  The keys are sent from a resource-release callback in
 *	  phase RESOURCE_RELEASE_AFTER_LOCKS of the top transaction, that is
 *	  after the transaction's locks are released, so other writers waiting
 *	  on our rows go on while we talk to memcached, and still before COMMIT
 *	  returns: when it returns, the deletes have been applied.  Nothing
 *	  there may raise an ERROR: any error becomes a WARNING (inval_send.c,
 *	  and a failed read of the temporary file here, which counts the keys
 *	  it could not read as failed), and the queue is gone whatever happens.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "inval.h"
#include "keys.h"
#include "settings.h"

PG_FUNCTION_INFO_V1(pylibmc_pg_delete_on_commit);

/*
 * A record: the configuration (2 bytes, native order), the key's length
 * (1 byte: keys are at most PMC_MAX_KEY_LEN bytes), the key's bytes.
 */
#define REC_HEADER			3
#define REC_CONFIG(rec)		((uint16) (((const unsigned char *) (rec))[0] | \
									   ((const unsigned char *) (rec))[1] << 8))
#define REC_LEN(rec)		(((const unsigned char *) (rec))[2])
#define REC_KEY(rec)		((const char *) (rec) + REC_HEADER)
#define REC_SIZE(rec)		(REC_HEADER + REC_LEN(rec))

/* the keys handed to the sender at once, and the bytes read at once */
#define SEND_CHUNK_KEYS		1000
#define READ_CHUNK_BYTES	65536

/* a hash table entry: the record at offset in the in-memory log */
typedef struct PendingEntry
{
	uint32		offset;
	uint32		hash;
	char		status;
} PendingEntry;

typedef struct PendingLevel
{
	int			nestingLevel;
	uint64		start;			/* log position when it began */
	long		nstart;			/* records then */
	struct PendingLevel *upper;
} PendingLevel;

typedef struct PendingQueue
{
	MemoryContext cxt;			/* child of TopTransactionContext */
	char	   *log;			/* the records after the spilled ones */
	uint32		loglen;
	uint32		logcap;
	long		nlog;			/* records in log */
	struct pending_hash *keys;	/* of the records in log */
	Size		limit;			/* bytes of log and hash table */
	bool		have_file;		/* file is open */
	File		file;			/* spilled records */
	uint64		spilled;		/* bytes of records in the file */
	long		nspilled;		/* records in the file */
	PendingLevel *levels;		/* innermost first */
	bool		inserting;		/* in pmc_inval_queue: an ERROR there may
								 * leave the hash table claiming a size its
								 * array has not (simplehash grows its size
								 * before it allocates) */
} PendingQueue;

static uint32 record_hash(PendingQueue *q, uint32 offset);
static bool record_equal(PendingQueue *q, uint32 a, uint32 b);

#define SH_PREFIX		pending
#define SH_ELEMENT_TYPE	PendingEntry
#define SH_KEY_TYPE		uint32
#define SH_KEY			offset
#define SH_HASH_KEY(tb, key)	record_hash((PendingQueue *) (tb)->private_data, key)
#define SH_EQUAL(tb, a, b)		record_equal((PendingQueue *) (tb)->private_data, a, b)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a)		((a)->hash)
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* the pending queue, or NULL */
static PendingQueue *pending = NULL;

/*
 * The log and the hash table outlive their transaction when together they
 * take at most KEEP_BYTES: the next transaction that queues keys starts
 * with them, emptied, instead of growing them again (copying the log and
 * rehashing every entry at each doubling, and faulting in fresh pages).
 * A 10,000-key transaction uses about 450 kB.  They live in kept_cxt.
 */
#define KEEP_BYTES			((Size) 1024 * 1024)

static MemoryContext kept_cxt = NULL;
static char *kept_log = NULL;
static uint32 kept_logcap = 0;
static struct pending_hash *kept_keys = NULL;

/* between XACT_EVENT_COMMIT and the send after the locks: the queue */
static PendingQueue *committed = NULL;

static uint32
record_hash(PendingQueue *q, uint32 offset)
{
	const char *rec = q->log + offset;

	return hash_bytes((const unsigned char *) rec, REC_SIZE(rec));
}

static bool
record_equal(PendingQueue *q, uint32 a, uint32 b)
{
	const char *ra = q->log + a;
	const char *rb = q->log + b;

	return REC_LEN(ra) == REC_LEN(rb) && memcmp(ra, rb, REC_SIZE(ra)) == 0;
}

static Size
hash_table_bytes(struct pending_hash *keys)
{
	return (Size) keys->size * sizeof(PendingEntry);
}

static PendingQueue *
create_queue(void)
{
	MemoryContext cxt;
	PendingQueue *q;

	if (kept_cxt == NULL)
		kept_cxt = AllocSetContextCreate(TopMemoryContext,
										 "pylibmc_pg delete_on_commit buffers",
										 ALLOCSET_DEFAULT_SIZES);
	cxt = AllocSetContextCreate(TopTransactionContext,
								"pylibmc_pg delete_on_commit",
								ALLOCSET_DEFAULT_SIZES);
	q = MemoryContextAllocZero(cxt, sizeof(PendingQueue));
	q->cxt = cxt;
	q->limit = Max((Size) work_mem * 1024, (Size) 65536);
	if (kept_log != NULL &&
		(Size) kept_logcap + hash_table_bytes(kept_keys) <= q->limit)
	{
		q->log = kept_log;
		q->logcap = kept_logcap;
		q->keys = kept_keys;
		q->keys->private_data = q;
		kept_log = NULL;
		kept_keys = NULL;
	}
	else
	{
		/* none kept, or more than this work_mem allows */
		MemoryContextReset(kept_cxt);
		kept_log = NULL;
		kept_keys = NULL;
		q->logcap = 8192;
		q->log = MemoryContextAlloc(kept_cxt, q->logcap);
		q->keys = pending_create(kept_cxt, 256, q);
	}
	return q;
}

/*
 * The transaction is over (sent, or aborted): keep the queue's log and
 * hash table, emptied, for the next one, or free them when they are large.
 */
static void
keep_buffers(PendingQueue *q)
{
	if (q->log == NULL)
		return;
	if (!q->inserting && (Size) q->logcap + hash_table_bytes(q->keys) <= KEEP_BYTES)
	{
		pending_reset(q->keys);
		q->keys->private_data = NULL;
		kept_log = q->log;
		kept_logcap = q->logcap;
		kept_keys = q->keys;
	}
	else
		MemoryContextReset(kept_cxt);
	q->log = NULL;
	q->keys = NULL;
}

/*
 * Write the in-memory records to the temporary file, after the records
 * already there (after a cut by ROLLBACK TO SAVEPOINT, from the cut on);
 * the hash starts afresh.  Nothing changes when the write fails (an ERROR
 * of the statement that queues): the records stay in memory, the file's
 * records before them stay as they were.
 */
static void
spill(PendingQueue *q)
{
	uint32		done = 0;

	if (!q->have_file)
	{
		q->file = OpenTemporaryFile(true);
		q->have_file = true;
	}
	while (done < q->loglen)
	{
		uint32		amount = Min(q->loglen - done, (uint32) 0x40000000);
		ssize_t		written;

		errno = 0;
		written = FileWrite(q->file, q->log + done, amount,
							(off_t) (q->spilled + done), WAIT_EVENT_BUFFILE_WRITE);
		if (written != (ssize_t) amount)
		{
			/* a short write sets no errno: the disk is full */
			if (written >= 0 && errno == 0)
				errno = ENOSPC;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write to the temporary file of the queued memcached deletes: %m")));
		}
		done += amount;
	}
	q->spilled += q->loglen;
	q->nspilled += q->nlog;
	q->loglen = 0;
	q->nlog = 0;
	pending_reset(q->keys);
}

/* Make room for a record of size bytes, spilling when over the limit */
static void
make_room(PendingQueue *q, uint32 size)
{
	/* the hash table doubles when it is this full */
	if (q->keys->members >= q->keys->grow_threshold &&
		2 * hash_table_bytes(q->keys) + q->logcap > q->limit && q->nlog > 0)
		spill(q);
	if (q->loglen + size <= q->logcap)
		return;
	if ((Size) q->logcap * 2 + hash_table_bytes(q->keys) > q->limit && q->nlog > 0)
		spill(q);
	else
	{
		/* the capacity changes only once the larger block exists */
		char	   *larger = repalloc(q->log, (Size) q->logcap * 2);

		q->log = larger;
		q->logcap *= 2;
	}
}

/*
 * Queue a key (already in UTF-8, checked, without the namespace) for the
 * configuration pmc_inval_config() returned, unless it is pending already.
 */
void
pmc_inval_queue(const char *key, size_t len, int config)
{
	int			my_level = GetCurrentTransactionNestLevel();
	PendingQueue *q = pending;
	uint32		size = REC_HEADER + (uint32) len;
	unsigned char *rec;
	bool		found;

	if (IsParallelWorker())
		elog(ERROR, "cannot queue memcached deletes in a parallel worker");
	if (len == 0 || len > PMC_MAX_KEY_LEN)
		elog(ERROR, "memcached key of %zu bytes queued", len);
	if (config < 0 || config > PG_UINT16_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many memcached configurations in one transaction")));

	if (q == NULL)
		pending = q = create_queue();
	if (q->levels == NULL || q->levels->nestingLevel < my_level)
	{
		PendingLevel *level = MemoryContextAlloc(q->cxt, sizeof(PendingLevel));

		level->nestingLevel = my_level;
		level->start = q->spilled + q->loglen;
		level->nstart = q->nspilled + q->nlog;
		level->upper = q->levels;
		q->levels = level;
	}

	q->inserting = true;
	make_room(q, size);
	/* the record goes at the end of the log; it stays if it is new */
	rec = (unsigned char *) q->log + q->loglen;
	rec[0] = (unsigned char) (config & 0xff);
	rec[1] = (unsigned char) (config >> 8);
	rec[2] = (unsigned char) len;
	memcpy(rec + REC_HEADER, key, len);
	(void) pending_insert(q->keys, q->loglen, &found);
	if (!found)
	{
		q->loglen += size;
		q->nlog++;
	}
	q->inserting = false;
}

/*
 * Empty the hash table.  After an ERROR inside pmc_inval_queue it may claim
 * a size its array has not: then it is made anew (the array itself is
 * freed whatever size the table claims).
 */
static void
empty_keys(PendingQueue *q)
{
	if (q->inserting)
	{
		pending_destroy(q->keys);
		q->keys = pending_create(kept_cxt, 256, q);
		q->inserting = false;
	}
	else
		pending_reset(q->keys);
}

/* Empty the hash table, then hash the records in memory again */
static void
rehash_log(PendingQueue *q)
{
	empty_keys(q);
	for (uint32 off = 0; off < q->loglen; off += REC_SIZE(q->log + off))
	{
		bool		found;

		(void) pending_insert(q->keys, off, &found);
	}
}

static long
pending_count(void)
{
	return pending ? pending->nspilled + pending->nlog : 0;
}

/* RELEASE SAVEPOINT: the committed level joins its parent */
static void
at_subcommit(int my_level)
{
	PendingLevel *child = pending->levels;

	if (child == NULL || child->nestingLevel < my_level)
		return;
	if (child->upper != NULL && child->upper->nestingLevel == my_level - 1)
	{
		/* the parent began earlier: its start stays */
		pending->levels = child->upper;
		pfree(child);
	}
	else
		child->nestingLevel = my_level - 1;
}

/* ROLLBACK TO SAVEPOINT: drop what the aborted level (and deeper) queued */
static void
at_subabort(int my_level)
{
	PendingQueue *q = pending;
	PendingLevel *cut = NULL;

	while (q->levels != NULL && q->levels->nestingLevel >= my_level)
	{
		if (cut != NULL)
			pfree(cut);
		cut = q->levels;
		q->levels = cut->upper;
	}
	/* a call that failed inside this subtransaction queued at its level */
	Assert(cut != NULL || !q->inserting);
	if (cut == NULL)
		return;
	if (cut->start >= q->spilled)
	{
		/* in memory: keep the records before the cut, hash them again */
		q->loglen = (uint32) (cut->start - q->spilled);
		q->nlog = cut->nstart - q->nspilled;
		rehash_log(q);
	}
	else
	{
		/* in the file: the next spill writes from the cut on */
		q->spilled = cut->start;
		q->nspilled = cut->nstart;
		q->loglen = 0;
		q->nlog = 0;
		empty_keys(q);
	}
	pfree(cut);
}

/*
 * Close the temporary file, if any.  Only after commit or at abort: a
 * failure (flushing its buffer) is a WARNING, the file is gone anyway when
 * the backend exits.
 */
static void
close_file(PendingQueue *q)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	File		file = q->file;

	if (!q->have_file)
		return;
	q->have_file = false;
	PG_TRY();
	{
		FileClose(file);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		FlushErrorState();
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not close the temporary file of the queued memcached deletes")));
	}
	PG_END_TRY();
}

/*
 * Hand records in runs of one configuration to the sender, or to the
 * invalidation log (inval_log.c), which writes them in the same runs.
 */
typedef struct SendBuffer
{
	PmcInvalSend *send;			/* the sender's, or */
	PmcInvalLog *log;			/* the log's */
	int			config;
	int			n;
	const char *keys[SEND_CHUNK_KEYS];
	uint32		lens[SEND_CHUNK_KEYS];
} SendBuffer;

static void
flush_records(SendBuffer *sb)
{
	if (sb->n > 0 && sb->log != NULL)
		pmc_inval_log_keys(sb->log, sb->config, sb->keys, sb->lens, sb->n);
	else if (sb->n > 0)
		pmc_inval_send_keys(sb->send, sb->config, sb->keys, sb->lens, sb->n);
	sb->n = 0;
}

/* Send the whole records in buf[0, len); returns the bytes used */
static uint32
send_records(SendBuffer *sb, const char *buf, uint32 len, long *nrecords)
{
	uint32		off = 0;

	while (off + REC_HEADER <= len && off + REC_SIZE(buf + off) <= len)
	{
		const char *rec = buf + off;
		int			config = REC_CONFIG(rec);

		if (sb->n == SEND_CHUNK_KEYS || (sb->n > 0 && config != sb->config))
			flush_records(sb);
		sb->config = config;
		sb->keys[sb->n] = REC_KEY(rec);
		sb->lens[sb->n] = REC_LEN(rec);
		sb->n++;
		(*nrecords)++;
		off += REC_SIZE(rec);
	}
	/* the keys point into buf: they go before buf is reused */
	flush_records(sb);
	return off;
}

/*
 * The spilled records, read back in pieces and handed over; ERROR when the
 * file cannot be read.  *nsent: the records handed over so far.
 */
static void
read_spilled(PendingQueue *q, SendBuffer *sb, char *buf, volatile long *nsent)
{
	uint64		offset = 0;
	uint32		have = 0;
	long		n = 0;

	while (offset < q->spilled)
	{
		size_t		want = Min((uint64) (READ_CHUNK_BYTES - have), q->spilled - offset);
		ssize_t		got = FileRead(q->file, buf + have, want, (off_t) offset,
								   WAIT_EVENT_BUFFILE_READ);
		uint32		used;

		if (got < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read the temporary file: %m")));
		if ((size_t) got != want)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read the temporary file: read only %zd of %zu bytes",
							got, want)));
		offset += got;
		have += (uint32) got;
		used = send_records(sb, buf, have, &n);
		*nsent = n;
		memmove(buf, buf + used, have - used);
		have -= used;
	}
}

/*
 * The spilled records, sent.  Never raises an ERROR: the transaction has
 * committed.  A failed read is a WARNING; the keys not read count as
 * failed.
 */
static void
send_spilled(PendingQueue *q, SendBuffer *sb)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile long nsent = 0;
	char	   *buf = palloc_extended(READ_CHUNK_BYTES, MCXT_ALLOC_NO_OOM);

	PG_TRY();
	{
		if (buf == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		read_spilled(q, sb, buf, &nsent);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		long		lost = q->nspilled - nsent;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("could not read back %ld of the %ld keys queued by mc_delete_on_commit",
						lost, q->nspilled + q->nlog),
				 errdetail("Their temporary file: %s", edata->message),
				 errhint("The transaction committed; those cache entries may be stale until they expire.")));
		FreeErrorData(edata);
		pmc_inval_send_lost(sb->send, lost);
	}
	PG_END_TRY();
	if (buf != NULL)
		pfree(buf);
}

/*
 * Before the commit record (XACT_EVENT_PRE_COMMIT): write the queue into
 * the WAL (inval_log.c), in the order and runs it will be sent in.  The
 * queue is final here: its aborted savepoints are cut, its duplicates
 * dropped.  An ERROR aborts the transaction, as it should: its keys could
 * not be made safe.
 */
static void
log_pending(PendingQueue *q)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(q->cxt);
	SendBuffer *sb = palloc0(sizeof(SendBuffer));
	long		n = 0;

	sb->log = pmc_inval_log_begin(pmc_invalidation_hold);
	if (q->have_file && q->nspilled > 0)
	{
		volatile long nsent = 0;
		char	   *buf = palloc(READ_CHUNK_BYTES);

		read_spilled(q, sb, buf, &nsent);
		pfree(buf);
	}
	(void) send_records(sb, q->log, q->loglen, &n);
	pmc_inval_log_end(sb->log);
	pfree(sb);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * After the commit, with the locks released: send the queue (the file's
 * records, then those in memory).  Never raises an ERROR (inval_send.c
 * warns); the queue is gone afterwards whatever happened.
 */
static void
send_committed(void)
{
	PendingQueue *q = committed;
	MemoryContext oldcxt;
	SendBuffer *sb;
	long		n = 0;

	committed = NULL;
	oldcxt = MemoryContextSwitchTo(q->cxt);
	sb = palloc_extended(sizeof(SendBuffer), MCXT_ALLOC_NO_OOM);
	if (sb == NULL)
	{
		pmc_inval_log_sent(false);
		ereport(WARNING,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not send the %ld deletes queued by mc_delete_on_commit: out of memory",
						q->nspilled + q->nlog),
				 errhint("The transaction committed; those cache entries may be stale until they expire.")));
	}
	else
	{
		bool		delivered;

		sb->send = pmc_inval_send_begin(pmc_invalidation_hold);
		sb->log = NULL;
		sb->n = 0;
		if (q->have_file && q->nspilled > 0)
			send_spilled(q, sb);
		(void) send_records(sb, q->log, q->loglen, &n);
		delivered = pmc_inval_send_end(sb->send);
		/* the replay worker skips it, or sends it again */
		pmc_inval_log_sent(delivered);
	}
	close_file(q);
	keep_buffers(q);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(q->cxt);
	pmc_inval_unpin_all();
}

/*
 * The transaction aborted: the queue's state goes with
 * TopTransactionContext, its log and hash table are kept or freed.
 */
static void
discard(PendingQueue *q)
{
	if (q != NULL)
	{
		close_file(q);
		keep_buffers(q);
	}
}

static void
invalidation_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (pending_count() > 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has queued memcached deletes"),
						 errdetail("%ld key(s) were queued by mc_delete_on_commit or mc_invalidate.",
								   pending_count()),
						 errhint("Commit without two-phase commit, or delete the keys after COMMIT PREPARED.")));
			break;
		case XACT_EVENT_PRE_COMMIT:
			if (pending_count() > 0 && pmc_inval_log_wanted())
				log_pending(pending);
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
			pmc_inval_log_abort();
			discard(pending);
			discard(committed);
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
		discard(committed);
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
