/*-------------------------------------------------------------------------
 *
 * inval_replay.c
 *	  Replaying the invalidation log (inval_log.c): the logical decoding
 *	  output plugin "pylibmc_pg", the background worker of each database
 *	  named in pylibmc_pg.invalidation_log_databases, and the
 *	  mc_invalidation_log view's function.
 *
 * The output plugin passes on only the messages of prefix pylibmc_pg, as
 * binary rows: 'M' and the message's content, then, at the transaction's
 * commit, 'C' and its commit time (a TimestampTz).  Transactions without
 * a message give no row.  Decoding hands them over in commit order, and
 * only those that committed: a rolled-back transaction, or savepoint,
 * wrote nothing the worker sees (the messages are written at
 * XACT_EVENT_PRE_COMMIT, from the queue as it is then).
 *
 * The worker of database D keeps the slot pylibmc_pg_<D's oid> with this
 * plugin, acquires it for its life and decodes it as a walsender does
 * (one decoding context, each WAL record decoded once).  In each round it
 * decodes the WAL flushed since the last round, and for each decoded
 * transaction in commit order:
 *	- its committing backend delivered it (inval_log.c's record): counted,
 *	  not sent again;
 *	- its committing backend is still sending it: the round stops there
 *	  and waits for it (the backend sets the worker's latch when done);
 *	- otherwise (failed, or not recorded: after a crash, a full record)
 *	  it sends each message's keys through the commit-time sender
 *	  (inval_send.c), with the message's configuration set in this
 *	  process (servers, behaviors, protocol; no namespace, the keys carry
 *	  it; the server's own credentials, none for servers a role chose).
 * The slot is confirmed past a transaction only once every key of it was
 * acknowledged, so the WAL is kept while a server cannot be reached: the
 * worker retries with a backoff (PMC_REPLAY_BACKOFF_*).  Delivery is at
 * least once.  A transaction older than pylibmc_pg.invalidation_log_max_age
 * that still cannot be delivered is given up: its keys are counted and
 * logged, and the slot moves on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlogutils.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/decode.h"
#include "replication/logical.h"
#include "replication/output_plugin.h"
#include "replication/slot.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "compat.h"
#include "inval.h"
#include "replay.h"
#include "settings.h"

PG_FUNCTION_INFO_V1(pylibmc_pg_invalidation_log);

/* decoded transactions waiting to be replayed, at most */
#define PMC_REPLAY_MAX_TXNS		10000
#define PMC_REPLAY_MAX_BYTES	(64 * 1024 * 1024)
/* waits: idle, and the backoff while a server cannot be reached */
#define PMC_REPLAY_IDLE_MS		1000
#define PMC_REPLAY_BACKOFF_MIN_MS	100
#define PMC_REPLAY_BACKOFF_MAX_MS	1000
/* a transaction whose backend is still sending: look again after */
#define PMC_REPLAY_SENDING_MS	50

/* ---------- the output plugin ---------- */

/*
 * The plugin's state (ctx->output_plugin_private): did the transaction
 * being decoded have a message of ours?  Transactions are decoded one at
 * a time (no streaming callbacks).
 */
typedef struct PluginState
{
	bool		had_message;
} PluginState;

static void
plugin_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt, bool is_init)
{
	ListCell   *lc;

	ctx->output_plugin_private = MemoryContextAllocZero(ctx->context, sizeof(PluginState));

	foreach(lc, ctx->output_plugin_options)
	{
		DefElem    *elem = lfirst(lc);

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" is unknown to the pylibmc_pg output plugin", elem->defname)));
	}
	opt->output_type = OUTPUT_PLUGIN_BINARY_OUTPUT;
	opt->receive_rewrites = false;
}

static void
plugin_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	/* no row: a transaction without messages gives none */
	((PluginState *) ctx->output_plugin_private)->had_message = false;
}

static void
plugin_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			  Relation relation, ReorderBufferChange *change)
{
	/* rows are not ours to replay */
}

static void
plugin_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			   XLogRecPtr message_lsn, bool transactional, const char *prefix,
			   Size message_size, const char *message)
{
	if (!transactional || strcmp(prefix, PMC_INVAL_LOG_PREFIX) != 0)
		return;
	OutputPluginPrepareWrite(ctx, true);
	appendStringInfoChar(ctx->out, 'M');
	appendBinaryStringInfo(ctx->out, message, message_size);
	OutputPluginWrite(ctx, true);
	((PluginState *) ctx->output_plugin_private)->had_message = true;
}

static void
plugin_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn)
{
	TimestampTz when = pmc_txn_commit_time(txn);
	PluginState *state = ctx->output_plugin_private;

	if (!state->had_message)
		return;
	state->had_message = false;
	OutputPluginPrepareWrite(ctx, true);
	appendStringInfoChar(ctx->out, 'C');
	appendBinaryStringInfo(ctx->out, (const char *) &when, sizeof(when));
	OutputPluginWrite(ctx, true);
}

void
pmc_replay_plugin_init(OutputPluginCallbacks *cb)
{
	cb->startup_cb = plugin_startup;
	cb->begin_cb = plugin_begin;
	cb->change_cb = plugin_change;
	cb->commit_cb = plugin_commit;
	cb->message_cb = plugin_message;
}

/* ---------- registration (postmaster) ---------- */

void
pmc_replay_init(void)
{
	char	   *list;
	List	   *names = NIL;
	ListCell   *lc;
	int			i = 0;

	if (!process_shared_preload_libraries_in_progress)
		return;
	list = pstrdup(pmc_invalidation_log_databases ? pmc_invalidation_log_databases : "");
	if (!SplitIdentifierString(list, ',', &names))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in pylibmc_pg.invalidation_log_databases")));
	if (list_length(names) > PMC_REPLAY_MAX_DATABASES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("pylibmc_pg.invalidation_log_databases names %d databases, at most %d are served",
						list_length(names), PMC_REPLAY_MAX_DATABASES)));
	pmc_inval_log_shmem_init(list_length(names));
	foreach(lc, names)
	{
		const char *name = lfirst(lc);
		BackgroundWorker worker;

		pmc_inval_log_set_database(i, name);
		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = 5;
		snprintf(worker.bgw_library_name, BGW_MAXLEN, "pylibmc_pg");
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "pylibmc_pg_replay_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "pylibmc_pg invalidation replay for %s", name);
		snprintf(worker.bgw_type, BGW_MAXLEN, "pylibmc_pg invalidation replay");
		worker.bgw_main_arg = Int32GetDatum(i);
		snprintf(worker.bgw_extra, BGW_EXTRALEN, "%s", name);
		RegisterBackgroundWorker(&worker);
		i++;
	}
}

/* ---------- the worker ---------- */

static int	my_index = -1;
static char my_slot[NAMEDATALEN];

/* one transaction decoded from the slot and not yet replayed */
typedef struct ReplayTxn
{
	TransactionId xid;
	XLogRecPtr	end_lsn;		/* the end of its commit record */
	TimestampTz commit_time;
	List	   *messages;		/* of bytea (copied) */
} ReplayTxn;

/*
 * The decoding, as a walsender's: the worker acquires its slot for life
 * and keeps one decoding context from round to round, so each WAL record
 * is decoded once.  The plugin's rows become transactions in pending (in
 * commit order); a transaction leaves pending when it was replayed, and
 * the slot is confirmed up to there.  pending is bounded: decoding pauses
 * while it is full (a server down for long), and the slot keeps the WAL.
 */
static LogicalDecodingContext *decoding = NULL;
static MemoryContext pending_cxt = NULL;
static List *pending = NIL;
static Size pending_bytes = 0;
static ReplayTxn *collecting = NULL;	/* its commit row is still to come */
/* the last transaction the worker warned it could not replay yet */
static TransactionId warned_xid = InvalidTransactionId;
/* confirmations are written to disk at most once a second */
static TimestampTz slot_saved_at = 0;
static bool slot_unsaved = false;

static void
replay_exit(int code, Datum arg)
{
	pmc_inval_log_worker_stopped(my_index);
}

/*
 * A slot the checkpointer invalidated (it held more WAL than
 * max_slot_wal_keep_size) cannot be read again: what it held is lost.
 * Said loudly (a WARNING, the view's last_error); then a new slot.
 */
static void
report_lost_slot(void)
{
	PmcReplayStats delta;

	memset(&delta, 0, sizeof(delta));
	snprintf(delta.last_error, sizeof(delta.last_error),
			 "replication slot \"%s\" was invalidated (max_slot_wal_keep_size): invalidations it had not replayed are lost",
			 my_slot);
	delta.last_error_time = GetCurrentTimestamp();
	pmc_inval_log_update(my_index, &delta, true, false);
	ereport(WARNING,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("pylibmc_pg: %s", delta.last_error),
			 errhint("Cache entries those invalidations were for may be stale until they expire. Raise max_slot_wal_keep_size, or lower pylibmc_pg.invalidation_log_max_age.")));
}

/* The slot exists, usable, or is created */
static void
ensure_slot(void)
{
	Oid			argtypes[1] = {NAMEOID};
	Datum		values[1];
	bool		create;
	int			rc;

	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	values[0] = CStringGetDatum(my_slot);
	rc = SPI_execute_with_args("SELECT wal_status = 'lost' FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
							   1, argtypes, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not look up replication slot \"%s\"", my_slot);
	create = (SPI_processed == 0);
	if (!create)
	{
		bool		isnull;
		bool		lost = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

		if (!isnull && lost)
		{
			report_lost_slot();
			rc = SPI_execute_with_args("SELECT pg_catalog.pg_drop_replication_slot($1)",
									   1, argtypes, values, NULL, false, 0);
			if (rc != SPI_OK_SELECT)
				elog(ERROR, "could not drop replication slot \"%s\"", my_slot);
			create = true;
		}
	}
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
	if (!create)
		return;

	/* creating a logical slot waits for the running transactions */
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	rc = SPI_execute_with_args("SELECT pg_catalog.pg_create_logical_replication_slot($1, 'pylibmc_pg')",
							   1, argtypes, values, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not create replication slot \"%s\"", my_slot);
	ereport(LOG,
			(errmsg("pylibmc_pg: created logical replication slot \"%s\" for the invalidation log of database \"%s\"",
					my_slot, get_database_name(MyDatabaseId))));
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
}

/* The decoding's writer: each plugin row starts afresh */
static void
collect_prepare(LogicalDecodingContext *ctx, XLogRecPtr lsn, TransactionId xid,
				bool last_write)
{
	resetStringInfo(ctx->out);
}

/*
 * A row of the plugin (see the top of the file): 'M' rows gather in the
 * transaction being collected, its 'C' row (lsn: the end of its commit
 * record) puts it into pending.
 */
static void
collect_row(LogicalDecodingContext *ctx, XLogRecPtr lsn, TransactionId xid,
			bool last_write)
{
	const char *p = ctx->out->data;
	Size		len = ctx->out->len;
	MemoryContext old;

	if (len < 1)
		return;
	old = MemoryContextSwitchTo(pending_cxt);
	if (collecting == NULL || collecting->xid != xid)
	{
		collecting = palloc0(sizeof(ReplayTxn));
		collecting->xid = xid;
	}
	if (p[0] == 'M')
	{
		bytea	   *copy = palloc(VARHDRSZ + len - 1);

		SET_VARSIZE(copy, VARHDRSZ + len - 1);
		memcpy(VARDATA(copy), p + 1, len - 1);
		collecting->messages = lappend(collecting->messages, copy);
		pending_bytes += VARSIZE(copy);
	}
	else if (p[0] == 'C' && len >= 1 + sizeof(TimestampTz))
	{
		memcpy(&collecting->commit_time, p + 1, sizeof(TimestampTz));
		collecting->end_lsn = lsn;
		pending = lappend(pending, collecting);
		collecting = NULL;
	}
	MemoryContextSwitchTo(old);
}

/* The first pending transaction was replayed (or given up) */
static void
drop_first_pending(void)
{
	ReplayTxn  *t = linitial(pending);
	ListCell   *lc;

	foreach(lc, t->messages)
		pending_bytes -= VARSIZE(lfirst(lc));
	list_free_deep(t->messages);
	pfree(t);
	pending = list_delete_first(pending);
	if (pending == NIL)
	{
		MemoryContextReset(pending_cxt);
		pending_bytes = 0;
	}
}

static bool
pending_full(void)
{
	return list_length(pending) >= PMC_REPLAY_MAX_TXNS ||
		pending_bytes >= PMC_REPLAY_MAX_BYTES;
}

/* Acquire the slot for the worker's life; decode from its restart point */
static void
start_decoding(void)
{
	MemoryContext old;

	pending_cxt = AllocSetContextCreate(TopMemoryContext, "pylibmc_pg replay pending",
										ALLOCSET_DEFAULT_SIZES);
	StartTransactionCommand();
	pmc_replication_slot_acquire(my_slot);
	/* the context must outlive the transaction */
	old = MemoryContextSwitchTo(TopMemoryContext);
	decoding = CreateDecodingContext(InvalidXLogRecPtr, NIL, false,
									 XL_ROUTINE(.page_read = read_local_xlog_page,
												.segment_open = wal_segment_open,
												.segment_close = wal_segment_close),
									 collect_prepare, collect_row, NULL);
	XLogBeginRead(decoding->reader, MyReplicationSlot->data.restart_lsn);
	MemoryContextSwitchTo(old);
	CommitTransactionCommand();
}

/*
 * Decode the WAL flushed so far, from where the last call stopped, into
 * pending (in a transaction: decoding reads the catalogs).  *upto: where
 * it stopped.  True when it got to the end, false when pending filled up.
 */
static bool
decode_available(XLogRecPtr *upto)
{
	XLogRecPtr	end_of_wal = pmc_flush_rec_ptr();
	MemoryContext old;

	/*
	 * The reader allocates its decode buffer in the current memory context
	 * at its first read and keeps it: read in the decoding context's, not
	 * in the round's transaction's.
	 */
	old = MemoryContextSwitchTo(decoding->context);
	while (decoding->reader->EndRecPtr < end_of_wal && !pending_full())
	{
		char	   *errm = NULL;
		XLogRecord *record = XLogReadRecord(decoding->reader, &errm);

		if (errm)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("could not read the WAL of replication slot \"%s\": %s", my_slot, errm)));
		if (record != NULL)
			LogicalDecodingProcessRecord(decoding, decoding->reader);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextSwitchTo(old);
	/* decoding filled the caches under historic snapshots */
	InvalidateSystemCaches();
	*upto = decoding->reader->EndRecPtr;
	return *upto >= end_of_wal;
}

/*
 * Confirm the slot up to lsn: its WAL may go.  Written to disk at once at
 * most once a second (and by every checkpoint): after a crash, what was
 * confirmed but not written is replayed again, which is correct.
 */
static void
confirm_slot(XLogRecPtr lsn)
{
	if (lsn > MyReplicationSlot->data.confirmed_flush)
	{
		LogicalConfirmReceivedLocation(lsn);
		ReplicationSlotMarkDirty();
		slot_unsaved = true;
	}
	if (slot_unsaved &&
		TimestampDifferenceExceeds(slot_saved_at, GetCurrentTimestamp(), 1000))
	{
		ReplicationSlotSave();
		slot_saved_at = GetCurrentTimestamp();
		slot_unsaved = false;
	}
}

/* The configuration the worker set last (apply_config), to set it once */
static struct
{
	bool		valid;
	bool		binary;
	bool		servers_by_role;
	char	   *servers;
	char	   *behaviors;
} applied;

static bool
config_applied(const PmcInvalLogMessage *msg)
{
	return applied.valid && applied.binary == msg->binary &&
		applied.servers_by_role == msg->servers_by_role &&
		strcmp(applied.servers, msg->servers) == 0 &&
		strcmp(applied.behaviors, msg->behaviors) == 0;
}

static void
remember_applied(const PmcInvalLogMessage *msg)
{
	if (applied.servers)
		pfree(applied.servers);
	if (applied.behaviors)
		pfree(applied.behaviors);
	applied.servers = MemoryContextStrdup(TopMemoryContext, msg->servers);
	applied.behaviors = MemoryContextStrdup(TopMemoryContext, msg->behaviors);
	applied.binary = msg->binary;
	applied.servers_by_role = msg->servers_by_role;
	applied.valid = true;
}

/* The message's configuration, set in this process (no namespace: applied) */
static void
apply_config(const PmcInvalLogMessage *msg)
{
	SetConfigOption("pylibmc_pg.servers", msg->servers, PGC_SUSET, PGC_S_OVERRIDE);
	/*
	 * The worker has its own backoff: libmemcached's retry_timeout would
	 * refuse a server for seconds after it came back.
	 */
	SetConfigOption("pylibmc_pg.behaviors",
					msg->behaviors[0] ? psprintf("%s, retry_timeout=0", msg->behaviors) :
					"retry_timeout=0",
					PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("pylibmc_pg.binary_protocol", msg->binary ? "on" : "off",
					PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("pylibmc_pg.namespace", "", PGC_SUSET, PGC_S_OVERRIDE);
	/* the server's own username, except for servers a role chose */
	if (msg->servers_by_role)
		SetConfigOption("pylibmc_pg.username", "", PGC_SUSET, PGC_S_OVERRIDE);
	else
		SetConfigOption("pylibmc_pg.username", GetConfigOptionResetString("pylibmc_pg.username"),
						PGC_SUSET, PGC_S_OVERRIDE);
}

/*
 * The message's configuration as a number of the sender's cache; -1 (and
 * error set) when it is refused (a bad stored value): not sent, retried.
 * Messages in a row mostly carry the same configuration: it is set again
 * only when it differs from the last one (the sender then finds its
 * client without building a signature).
 */
static int
prepare_config(const PmcInvalLogMessage *msg, char *error, size_t errlen)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile int config = -1;

	if (config_applied(msg))
		return pmc_inval_config();
	applied.valid = false;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		apply_config(msg);
		config = pmc_inval_config();
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		snprintf(error, errlen, "%s", edata->message);
		FreeErrorData(edata);
		config = -1;
	}
	PG_END_TRY();
	if (config >= 0)
		remember_applied(msg);
	return config;
}

/*
 * Send one transaction's keys; true when every key was acknowledged.
 * *error: the first failure's description.
 */
static bool
send_txn(ReplayTxn *t, long *nkeys, bool *hopeless, char *error, size_t errlen)
{
	bool		delivered = true;
	ListCell   *lc;

	*nkeys = 0;
	*hopeless = false;
	foreach(lc, t->messages)
	{
		bytea	   *m = lfirst(lc);
		PmcInvalLogMessage msg;
		PmcInvalSend *send;
		int			config;

		if (!pmc_inval_log_parse(VARDATA(m), VARSIZE(m) - VARHDRSZ, &msg))
		{
			ereport(WARNING,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("pylibmc_pg: skipping an unreadable invalidation log message of transaction %u", t->xid)));
			continue;
		}
		*nkeys += msg.nkeys;
		config = prepare_config(&msg, error, errlen);
		if (config < 0)
		{
			delivered = false;
			continue;
		}
		/* the sender cuts the keys into its own batches */
		send = pmc_inval_send_begin(msg.hold);
		pmc_inval_send_keys(send, config, msg.keys, msg.lens, msg.nkeys);
		if (!pmc_inval_send_end(send))
		{
			if (delivered)
				snprintf(error, errlen, "%s", pmc_inval_send_last_failure());
			delivered = false;

			/*
			 * Servers a role chose get no credentials from the worker (the
			 * role's are not in the WAL): when they demand some, no retry
			 * can deliver, and waiting would hold back every later
			 * transaction of the database.
			 */
			if (msg.servers_by_role &&
				pmc_inval_send_last_failure_code() == ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION)
				*hopeless = true;
		}
	}
	pmc_inval_unpin_all();
	return delivered;
}

static long
txn_keys(ReplayTxn *t)
{
	long		n = 0;
	ListCell   *lc;

	foreach(lc, t->messages)
	{
		bytea	   *m = lfirst(lc);
		PmcInvalLogMessage msg;

		if (pmc_inval_log_parse(VARDATA(m), VARSIZE(m) - VARHDRSZ, &msg))
			n += msg.nkeys;
	}
	return n;
}

typedef enum RoundResult
{
	ROUND_IDLE,					/* all decoded was replayed */
	ROUND_MORE,					/* more to decode at once */
	ROUND_WAIT_SENDING,			/* a backend is still sending */
	ROUND_FAILED				/* a server could not be reached */
} RoundResult;

/*
 * Replay the first pending transaction.  ROUND_IDLE when it is done
 * (delivered by its backend, sent now, or given up), else why not.
 */
static RoundResult
replay_first(PmcReplayStats *delta, bool *set_error)
{
	ReplayTxn  *t = linitial(pending);
	PmcDelivery d = pmc_inval_log_delivery(t->xid);
	long		n;
	bool		hopeless;
	char		error[256] = "";
	TimestampTz now;

	if (d == PMC_DELIVERY_SENDING)
		return ROUND_WAIT_SENDING;
	if (d == PMC_DELIVERY_DELIVERED)
	{
		delta->keys_delivered += txn_keys(t);
		return ROUND_IDLE;
	}
	if (send_txn(t, &n, &hopeless, error, sizeof(error)))
	{
		delta->keys_resent += n;
		return ROUND_IDLE;
	}
	now = GetCurrentTimestamp();
	snprintf(delta->last_error, sizeof(delta->last_error), "%s", error);
	delta->last_error_time = now;
	*set_error = true;
	if (hopeless)
	{
		delta->keys_given_up += n;
		ereport(WARNING,
				(errmsg("pylibmc_pg: gave up %ld invalidations of transaction %u, committed at %s",
						n, t->xid, timestamptz_to_str(t->commit_time)),
				 errdetail("Their servers were chosen by a role and require authentication, and the worker has none of a role's credentials; the failure: %s.",
						   error),
				 errhint("Name memcached servers that require SASL in the server's configuration, with pylibmc_pg.username and pylibmc_pg.password_file.")));
		return ROUND_IDLE;
	}
	if (pmc_invalidation_log_max_age > 0 &&
		TimestampDifferenceExceeds(t->commit_time, now,
								   pmc_invalidation_log_max_age * 1000))
	{
		/* older than pylibmc_pg.invalidation_log_max_age: given up */
		delta->keys_given_up += n;
		ereport(WARNING,
				(errmsg("pylibmc_pg: gave up %ld invalidations of transaction %u, committed at %s",
						n, t->xid, timestamptz_to_str(t->commit_time)),
				 errdetail("They are older than pylibmc_pg.invalidation_log_max_age; the last failure: %s.",
						   error)));
		return ROUND_IDLE;
	}
	/* once per transaction: the worker retries every second */
	if (t->xid != warned_xid)
	{
		ereport(WARNING,
				(errmsg("pylibmc_pg: could not replay the invalidations of transaction %u yet", t->xid),
				 errdetail("%s.", error),
				 errhint("The worker retries until every server acknowledges them; mc_invalidation_log shows the last error.")));
		warned_xid = t->xid;
	}
	delta->oldest_undelivered = t->commit_time;
	return ROUND_FAILED;
}

/*
 * One round: decode what was flushed, replay the pending transactions in
 * commit order, confirm what was replayed.
 */
static RoundResult
replay_round(void)
{
	XLogRecPtr	upto;
	XLogRecPtr	confirm = InvalidXLogRecPtr;
	bool		at_end;
	RoundResult result = ROUND_IDLE;
	PmcReplayStats delta;
	bool		set_error = false;

	memset(&delta, 0, sizeof(delta));
	StartTransactionCommand();
	at_end = decode_available(&upto);
	while (pending != NIL)
	{
		ReplayTxn  *t = linitial(pending);

		result = replay_first(&delta, &set_error);
		if (result != ROUND_IDLE)
			break;
		delta.transactions++;
		pmc_inval_log_forget(t->xid);
		confirm = t->end_lsn;
		drop_first_pending();
	}

	/*
	 * Everything decoded was replayed: confirm up to where decoding got (no
	 * transaction with messages committed before it is left).
	 */
	if (pending == NIL)
	{
		confirm = upto;
		if (!at_end)
			result = ROUND_MORE;
	}
	confirm_slot(confirm);
	delta.confirmed_lsn = MyReplicationSlot->data.confirmed_flush;
	CommitTransactionCommand();
	pmc_inval_log_update(my_index, &delta, set_error, result != ROUND_WAIT_SENDING);
	return result;
}

/*
 * An ERROR escaping a round (reading the WAL failed): shown in the view's
 * last_error before the worker exits (and is restarted).
 */
static void
record_error(void)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	ErrorData  *edata = CopyErrorData();
	PmcReplayStats delta;

	MemoryContextSwitchTo(old);
	memset(&delta, 0, sizeof(delta));
	snprintf(delta.last_error, sizeof(delta.last_error), "%s", edata->message);
	delta.last_error_time = GetCurrentTimestamp();
	pmc_inval_log_update(my_index, &delta, true, false);
	FreeErrorData(edata);
}

void
pylibmc_pg_replay_main(Datum main_arg)
{
	char		dbname[NAMEDATALEN];
	long		backoff = PMC_REPLAY_BACKOFF_MIN_MS;

	my_index = DatumGetInt32(main_arg);
	snprintf(dbname, NAMEDATALEN, "%s", MyBgworkerEntry->bgw_extra);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(dbname, NULL, 0);

	snprintf(my_slot, sizeof(my_slot), "pylibmc_pg_%u", MyDatabaseId);
	pmc_inval_log_worker_started(my_index, MyDatabaseId, my_slot);
	pmc_inval_send_quiet(true);
	before_shmem_exit(replay_exit, (Datum) 0);
	PG_TRY();
	{
		ensure_slot();
		start_decoding();
	}
	PG_CATCH();
	{
		record_error();
		PG_RE_THROW();
	}
	PG_END_TRY();

	for (;;)
	{
		RoundResult r;
		long		wait;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			/* the server's username or password file may have changed */
			applied.valid = false;
		}
		PG_TRY();
		{
			r = replay_round();
		}
		PG_CATCH();
		{
			record_error();
			PG_RE_THROW();
		}
		PG_END_TRY();
		if (r == ROUND_MORE)
			continue;
		if (r == ROUND_FAILED)
		{
			wait = backoff;
			backoff = Min(backoff * 2, PMC_REPLAY_BACKOFF_MAX_MS);
		}
		else
		{
			backoff = PMC_REPLAY_BACKOFF_MIN_MS;
			wait = (r == ROUND_WAIT_SENDING) ? PMC_REPLAY_SENDING_MS : PMC_REPLAY_IDLE_MS;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ---------- mc_invalidation_log ---------- */

Datum
pylibmc_pg_invalidation_log(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PmcReplayStats s;

	pmc_init_materialized_srf(fcinfo);
	for (int i = 0; pmc_inval_log_snapshot(i, &s); i++)
	{
		Datum		values[11];
		bool		nulls[11];

		memset(nulls, 0, sizeof(nulls));
		values[0] = CStringGetTextDatum(s.dbname);
		values[1] = CStringGetTextDatum(s.slot[0] ? s.slot : "");
		nulls[1] = (s.slot[0] == '\0');
		values[2] = Int32GetDatum(s.pid);
		nulls[2] = (s.pid == 0);
		values[3] = LSNGetDatum(s.confirmed_lsn);
		nulls[3] = (s.confirmed_lsn == InvalidXLogRecPtr);
		values[4] = TimestampTzGetDatum(s.oldest_undelivered);
		nulls[4] = (s.oldest_undelivered == 0);
		values[5] = Int64GetDatum(s.transactions);
		values[6] = Int64GetDatum(s.keys_delivered);
		values[7] = Int64GetDatum(s.keys_resent);
		values[8] = Int64GetDatum(s.keys_given_up);
		values[9] = CStringGetTextDatum(s.last_error);
		nulls[9] = (s.last_error_time == 0);
		values[10] = TimestampTzGetDatum(s.last_error_time);
		nulls[10] = (s.last_error_time == 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
