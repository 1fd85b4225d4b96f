/*-------------------------------------------------------------------------
 *
 * inval_log.c
 *	  The invalidation log: a committing transaction's queued keys written
 *	  into its WAL as transactional logical messages, and the shared memory
 *	  the replay worker (inval_replay.c) and the committing backends share.
 *
 * With pylibmc_pg.invalidation_log on (it needs wal_level = logical), the
 * queue (inval_queue.c) hands its keys here at XACT_EVENT_PRE_COMMIT, in
 * the order and runs of configuration it sends them after the commit:
 * the queue is then final (its savepoints resolved, its duplicates
 * dropped), and the transaction can still write WAL.  Each run of at most
 * PMC_LOG_MESSAGE_KEYS keys of one configuration is one message (prefix
 * PMC_INVAL_LOG_PREFIX), transactional: logical decoding hands it to the
 * replayer only if the transaction commits, in commit order.  A message
 * holds what the key is deleted with, never a credential:
 *
 *	byte 0			PMC_INVAL_LOG_VERSION
 *	byte 1			flags: PMC_INVAL_LOG_BINARY, PMC_INVAL_LOG_BY_ROLE
 *	bytes 2-5		the hold (seconds, 0: delete), int32
 *	uint16 + bytes	pylibmc_pg.servers' text
 *	uint16 + bytes	pylibmc_pg.behaviors' text
 *	uint32			the number of keys, then each key as uint8 length +
 *					bytes, the namespace already applied
 *
 * (native byte order: WAL is read on the machine that wrote it).
 *
 * The record of deliveries (point: no double work): before its commit
 * record the backend records its top transaction id as "sending" in a
 * shared hash table, and after its send "delivered" (every key
 * acknowledged by every server) or "failed".  The worker skips a
 * delivered transaction, waits for a sending one, and sends the others;
 * it forgets each entry once the transaction is replayed.  A full table,
 * a database without a worker, shared memory reinitialised after a crash:
 * nothing recorded, so the worker sends again, which is correct, only
 * slower.  A backend that exits while sending marks its entry failed
 * (before_shmem_exit).
 *
 * The same shared memory holds each served database's counters for the
 * mc_invalidation_log view.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "replication/message.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "inval.h"
#include "settings.h"

/* keys per message: the queue hands over runs of at most as many */
#define PMC_LOG_MESSAGE_KEYS	1000

/* transactions the record of deliveries holds at most */
#define PMC_DELIVERY_MAX		16384

#define IL_STATE_NAME			"pylibmc_pg invalidation log"
#define IL_HASH_NAME			"pylibmc_pg invalidation log deliveries"
#define IL_TRANCHE_NAME			"pylibmc_pg invalidation log"

typedef struct DeliveryEntry
{
	TransactionId xid;			/* the key */
	int			state;			/* PmcDelivery */
	int			pid;			/* the backend that records it */
} DeliveryEntry;

typedef struct InvalLogShared
{
	LWLock	   *lock;
	int			ndatabases;
	Latch	   *latch[PMC_REPLAY_MAX_DATABASES];	/* each worker's */
	PmcReplayStats dbs[PMC_REPLAY_MAX_DATABASES];
} InvalLogShared;

static InvalLogShared *il_shared = NULL;
static HTAB *il_hash = NULL;

/* set in the postmaster before shared memory exists */
static int	il_ndatabases = 0;
static char il_names[PMC_REPLAY_MAX_DATABASES][NAMEDATALEN];

#ifdef PMC_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* ---------- shared memory ---------- */

static Size
il_memsize(void)
{
	return add_size(MAXALIGN(sizeof(InvalLogShared)),
					hash_estimate_size(PMC_DELIVERY_MAX, sizeof(DeliveryEntry)));
}

static void
il_request(void)
{
#ifdef PMC_HAVE_SHMEM_REQUEST_HOOK
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(il_memsize());
	RequestNamedLWLockTranche(IL_TRANCHE_NAME, 1);
}

static void
il_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	il_shared = NULL;
	il_hash = NULL;
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	il_shared = ShmemInitStruct(IL_STATE_NAME, sizeof(InvalLogShared), &found);
	if (!found)
	{
		memset(il_shared, 0, sizeof(InvalLogShared));
		il_shared->lock = &(GetNamedLWLockTranche(IL_TRANCHE_NAME))->lock;
		il_shared->ndatabases = il_ndatabases;
		for (int i = 0; i < il_ndatabases; i++)
			snprintf(il_shared->dbs[i].dbname, NAMEDATALEN, "%s", il_names[i]);
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(TransactionId);
	info.entrysize = sizeof(DeliveryEntry);
	il_hash = ShmemInitHash(IL_HASH_NAME, PMC_DELIVERY_MAX, PMC_DELIVERY_MAX,
							&info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

/* From _PG_init() of the preloaded library, after the databases are named */
void
pmc_inval_log_shmem_init(int ndatabases)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	il_ndatabases = Min(ndatabases, PMC_REPLAY_MAX_DATABASES);
#ifdef PMC_HAVE_SHMEM_REQUEST_HOOK
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = il_request;
#else
	il_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = il_startup;
}

void
pmc_inval_log_set_database(int index, const char *dbname)
{
	if (index >= 0 && index < PMC_REPLAY_MAX_DATABASES)
		snprintf(il_names[index], NAMEDATALEN, "%s", dbname);
}

int
pmc_inval_log_ndatabases(void)
{
	return il_shared ? il_shared->ndatabases : 0;
}

/* The worker of database index runs (MyLatch is in shared memory) */
void
pmc_inval_log_worker_started(int index, Oid dboid, const char *slot)
{
	LWLockAcquire(il_shared->lock, LW_EXCLUSIVE);
	il_shared->dbs[index].dboid = dboid;
	il_shared->dbs[index].pid = MyProcPid;
	snprintf(il_shared->dbs[index].slot, NAMEDATALEN, "%s", slot);
	il_shared->latch[index] = MyLatch;
	LWLockRelease(il_shared->lock);
}

void
pmc_inval_log_worker_stopped(int index)
{
	if (il_shared == NULL)
		return;
	LWLockAcquire(il_shared->lock, LW_EXCLUSIVE);
	il_shared->dbs[index].pid = 0;
	il_shared->latch[index] = NULL;
	LWLockRelease(il_shared->lock);
}

/* What the record says of a transaction */
PmcDelivery
pmc_inval_log_delivery(TransactionId xid)
{
	DeliveryEntry *e;
	PmcDelivery result = PMC_DELIVERY_UNKNOWN;

	if (il_hash == NULL)
		return result;
	LWLockAcquire(il_shared->lock, LW_SHARED);
	e = hash_search(il_hash, &xid, HASH_FIND, NULL);
	if (e != NULL)
		result = (PmcDelivery) e->state;
	LWLockRelease(il_shared->lock);
	return result;
}

/* The transaction is replayed: forget it */
void
pmc_inval_log_forget(TransactionId xid)
{
	if (il_hash == NULL)
		return;
	LWLockAcquire(il_shared->lock, LW_EXCLUSIVE);
	(void) hash_search(il_hash, &xid, HASH_REMOVE, NULL);
	LWLockRelease(il_shared->lock);
}

/* Add delta's counters to database index's; set its error, its oldest */
void
pmc_inval_log_update(int index, const PmcReplayStats *delta, bool set_error,
					 bool set_oldest)
{
	PmcReplayStats *s;

	if (il_shared == NULL)
		return;
	LWLockAcquire(il_shared->lock, LW_EXCLUSIVE);
	s = &il_shared->dbs[index];
	s->transactions += delta->transactions;
	s->keys_delivered += delta->keys_delivered;
	s->keys_resent += delta->keys_resent;
	s->keys_given_up += delta->keys_given_up;
	if (delta->confirmed_lsn != InvalidXLogRecPtr)
		s->confirmed_lsn = delta->confirmed_lsn;
	if (set_error)
	{
		snprintf(s->last_error, sizeof(s->last_error), "%s", delta->last_error);
		s->last_error_time = delta->last_error_time;
	}
	if (set_oldest)
		s->oldest_undelivered = delta->oldest_undelivered;
	LWLockRelease(il_shared->lock);
}

/* A copy of database index's counters; false past the last database */
bool
pmc_inval_log_snapshot(int index, PmcReplayStats *out)
{
	if (il_shared == NULL || index < 0 || index >= il_shared->ndatabases)
		return false;
	LWLockAcquire(il_shared->lock, LW_SHARED);
	*out = il_shared->dbs[index];
	LWLockRelease(il_shared->lock);
	return true;
}

/* ---------- the committing backend ---------- */

struct PmcInvalLog
{
	int			hold;
	int			config;			/* of the message being built, -1: none */
	StringInfoData buf;
	Size		count_at;		/* where the message's key count goes */
	uint32		nkeys;
	int			nmessages;
};

/* the transaction this backend recorded as sending, or invalid */
static TransactionId recorded_xid = InvalidTransactionId;
static bool exit_registered = false;

/* Does this transaction write its keys into the WAL? */
bool
pmc_inval_log_wanted(void)
{
	return pmc_invalidation_log && XLogLogicalInfoActive() && !RecoveryInProgress();
}

PmcInvalLog *
pmc_inval_log_begin(int hold)
{
	PmcInvalLog *log = palloc0(sizeof(PmcInvalLog));

	log->hold = hold;
	log->config = -1;
	initStringInfo(&log->buf);
	return log;
}

static void
append_string(StringInfo buf, const char *s)
{
	uint16		len = (uint16) Min(strlen(s), (size_t) PG_UINT16_MAX);

	appendBinaryStringInfo(buf, (const char *) &len, sizeof(len));
	appendBinaryStringInfo(buf, s, len);
}

/* Write the message being built, if any, into the WAL */
static void
flush_message(PmcInvalLog *log)
{
	if (log->config < 0)
		return;
	memcpy(log->buf.data + log->count_at, &log->nkeys, sizeof(uint32));
	(void) pmc_log_logical_message(PMC_INVAL_LOG_PREFIX, log->buf.data, log->buf.len, true);
	log->nmessages++;
	log->config = -1;
	resetStringInfo(&log->buf);
}

/* Start a message for config */
static void
start_message(PmcInvalLog *log, int config)
{
	PmcInvalDesc desc;
	uint8		head[2];
	int32		hold = log->hold;
	uint32		zero = 0;

	pmc_inval_config_describe(config, &desc);
	head[0] = PMC_INVAL_LOG_VERSION;
	head[1] = (desc.binary ? PMC_INVAL_LOG_BINARY : 0) |
		(desc.servers_by_role ? PMC_INVAL_LOG_BY_ROLE : 0);
	appendBinaryStringInfo(&log->buf, (const char *) head, 2);
	appendBinaryStringInfo(&log->buf, (const char *) &hold, sizeof(hold));
	append_string(&log->buf, desc.servers);
	append_string(&log->buf, desc.behaviors);
	log->count_at = log->buf.len;
	appendBinaryStringInfo(&log->buf, (const char *) &zero, sizeof(zero));
	log->nkeys = 0;
	log->config = config;
}

/* n keys of one configuration, in the queue's order */
void
pmc_inval_log_keys(PmcInvalLog *log, int config, const char *const *keys,
				   const uint32 *lens, int n)
{
	for (int i = 0; i < n; i++)
	{
		PmcInvalDesc desc;
		size_t		nslen;
		uint8		len;

		if (log->config != config || log->nkeys >= PMC_LOG_MESSAGE_KEYS)
		{
			flush_message(log);
			start_message(log, config);
		}
		pmc_inval_config_describe(config, &desc);
		nslen = strlen(desc.namespace);
		/* keys.c refused a key longer than that with its namespace */
		Assert(nslen + lens[i] <= 255);
		len = (uint8) (nslen + lens[i]);
		appendBinaryStringInfo(&log->buf, (const char *) &len, 1);
		appendBinaryStringInfo(&log->buf, desc.namespace, nslen);
		appendBinaryStringInfo(&log->buf, keys[i], lens[i]);
		log->nkeys++;
	}
}

/* A backend exits while it sends: its transaction was not delivered */
static void
log_exit_callback(int code, Datum arg)
{
	pmc_inval_log_sent(false);
}

/* Is a worker serving this database? */
static bool
database_served(void)
{
	bool		served = false;

	LWLockAcquire(il_shared->lock, LW_SHARED);
	for (int i = 0; i < il_shared->ndatabases; i++)
		if (il_shared->dbs[i].dboid == MyDatabaseId)
			served = true;
	LWLockRelease(il_shared->lock);
	return served;
}

/*
 * The last message; then, when a worker serves this database, the
 * transaction is recorded as sending (still before its commit record).
 */
void
pmc_inval_log_end(PmcInvalLog *log)
{
	TransactionId xid;

	flush_message(log);
	if (log->nmessages == 0 || il_hash == NULL || !database_served())
		return;
	xid = GetTopTransactionId();
	if (!exit_registered)
	{
		before_shmem_exit(log_exit_callback, (Datum) 0);
		exit_registered = true;
	}
	LWLockAcquire(il_shared->lock, LW_EXCLUSIVE);
	if (hash_get_num_entries(il_hash) < PMC_DELIVERY_MAX)
	{
		bool		found;
		DeliveryEntry *e = hash_search(il_hash, &xid, HASH_ENTER, &found);

		e->state = PMC_DELIVERY_SENDING;
		e->pid = MyProcPid;
		recorded_xid = xid;
	}
	LWLockRelease(il_shared->lock);
}

/*
 * After the send (the transaction committed): record its outcome; wake
 * the worker when it has work (also when the worker is waiting for this
 * send: it looks again every PMC_REPLAY_SENDING_MS anyway).  Never raises
 * an ERROR.
 */
void
pmc_inval_log_sent(bool delivered)
{
	TransactionId xid = recorded_xid;
	DeliveryEntry *e;

	if (!TransactionIdIsValid(xid) || il_hash == NULL)
		return;
	recorded_xid = InvalidTransactionId;
	LWLockAcquire(il_shared->lock, LW_EXCLUSIVE);
	e = hash_search(il_hash, &xid, HASH_FIND, NULL);
	if (e != NULL && e->pid == MyProcPid)
		e->state = delivered ? PMC_DELIVERY_DELIVERED : PMC_DELIVERY_FAILED;
	for (int i = 0; i < il_shared->ndatabases && !delivered; i++)
		if (il_shared->dbs[i].dboid == MyDatabaseId && il_shared->latch[i] != NULL)
			SetLatch(il_shared->latch[i]);
	LWLockRelease(il_shared->lock);
}

/* The transaction aborted after its messages: it will never be replayed */
void
pmc_inval_log_abort(void)
{
	TransactionId xid = recorded_xid;

	if (!TransactionIdIsValid(xid) || il_hash == NULL)
		return;
	recorded_xid = InvalidTransactionId;
	pmc_inval_log_forget(xid);
}

/* ---------- reading a message ---------- */

static bool
read_bytes(const char **p, const char *end, void *out, Size n)
{
	if (end - *p < (ptrdiff_t) n)
		return false;
	memcpy(out, *p, n);
	*p += n;
	return true;
}

static bool
read_string(const char **p, const char *end, char **out)
{
	uint16		len;

	if (!read_bytes(p, end, &len, sizeof(len)) || end - *p < (ptrdiff_t) len)
		return false;
	*out = pnstrdup(*p, len);
	*p += len;
	return true;
}

/*
 * Decode a message (in CurrentMemoryContext; the keys point into data).
 * false when it is not one this version reads.
 */
bool
pmc_inval_log_parse(const char *data, Size size, PmcInvalLogMessage *msg)
{
	const char *p = data;
	const char *end = data + size;
	uint8		head[2];
	int32		hold;
	uint32		nkeys;

	if (!read_bytes(&p, end, head, 2) || head[0] != PMC_INVAL_LOG_VERSION ||
		!read_bytes(&p, end, &hold, sizeof(hold)) ||
		!read_string(&p, end, &msg->servers) ||
		!read_string(&p, end, &msg->behaviors) ||
		!read_bytes(&p, end, &nkeys, sizeof(nkeys)) ||
		nkeys > (uint32) (end - p))
		return false;
	msg->hold = hold;
	msg->binary = (head[1] & PMC_INVAL_LOG_BINARY) != 0;
	msg->servers_by_role = (head[1] & PMC_INVAL_LOG_BY_ROLE) != 0;
	msg->nkeys = (int) nkeys;
	msg->keys = palloc(Max(nkeys, 1) * sizeof(char *));
	msg->lens = palloc(Max(nkeys, 1) * sizeof(uint32));
	for (uint32 i = 0; i < nkeys; i++)
	{
		uint8		len;

		if (!read_bytes(&p, end, &len, 1) || end - p < (ptrdiff_t) len)
			return false;
		msg->keys[i] = p;
		msg->lens[i] = len;
		p += len;
	}
	return p == end;
}
