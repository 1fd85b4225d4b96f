/*-------------------------------------------------------------------------
 *
 * inval_send.c
 *	  Sending the deletes queued by mc_delete_on_commit (inval_queue.c)
 *	  once the transaction has committed.
 *
 * Configurations
 * --------------
 * A key is deleted exactly as it was named when it was queued: under the
 * namespace, on the servers, over the protocol in force then.  So the
 * queue records, with each key, the configuration it was queued under:
 * pmc_inval_config() is called at queue time and returns a small number
 * naming an entry of this file's configuration cache.  An entry holds the
 * settings' signature and two clients built from those settings then (no
 * I/O: libmemcached connects on first use):
 *	- "acked", an ordinary client, for acknowledged deletes (binary
 *	  protocol, UDP, and the keys the quiet client would route elsewhere);
 *	  when the entry's settings are the ones in force at commit, the main
 *	  client (pmc_client()) is used instead, so a backend keeps one
 *	  ordinary connection per server;
 *	- "quiet" (ASCII over TCP or a UNIX socket only), with NOREPLY and
 *	  BUFFER_REQUESTS set once.  Setting those on the main client for each
 *	  batch made libmemcached close its connections each time (measured:
 *	  the reconnects cost more than a 10,000-key batch).
 * Entries used by the open transaction are pinned; at most
 * PMC_CONFIG_CACHE unpinned ones are kept, the least recently used is
 * freed first.  One transaction may span several configurations; each
 * part is sent to its own servers, and a failure of one part is a WARNING
 * that does not stop the others.
 *
 * How a batch is sent (measured with libmemcached 1.1.4, memcached 1.6)
 * ---------------------------------------------------------------------
 *	- ASCII protocol: "delete k noreply" through the quiet client (the
 *	  server sends nothing back, not even for a missing key, so the
 *	  connection cannot desynchronise), flushed every PMC_BATCH_KEYS keys.
 *	  A key that client would route elsewhere than the acknowledged one (a
 *	  server ejected by one of them only) is deleted through the latter,
 *	  acknowledged.  Then one get per server that received quiet deletes,
 *	  on the same connection, is a barrier: memcached handles a
 *	  connection's commands in order, so when the reply comes back every
 *	  delete before it has been applied (and a failed server shows up).
 *	- Binary protocol: quiet deletes (DELETEQ, SETQ for tombstones) through
 *	  the quiet client, as in ASCII.  The server answers a quiet delete of
 *	  a missing key with an error packet (our libmemcached skips it:
 *	  patches/libmemcached/0007); left unread, such packets would fill the
 *	  connection until the server stalls, so the barrier below runs after
 *	  every PMC_BATCH_KEYS keys, not only at the end: its reply is read
 *	  after them.
 *	- UDP: libmemcached sends without replies anyway; no barrier possible.
 *	After the first failure on a server its remaining keys are skipped, so
 *	a dead server costs one connect timeout, not one per key.
 *	- pylibmc_pg.invalidation_hold > 0: a tombstone is stored instead of a
 *	  delete (set, same paths): a pickled None, flags 1, the bytes "N.",
 *	  for that many seconds.  mc_get and pylibmc's get() read it as a miss,
 *	  add fails while it lives, so a reader that read the old row before
 *	  the commit cannot fill the cache with it afterwards.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/ipc.h"
#include "utils/memutils.h"

#include "client.h"
#include "exchange.h"
#include "guard.h"
#include "inval.h"
#include "keys.h"
#include "settings.h"
#include "stats.h"
#include "value.h"

/* ASCII batches are flushed every this many keys */
#define PMC_BATCH_KEYS			1000

/*
 * Unpinned configurations kept for later transactions: one, the last used,
 * so that between transactions a backend holds at most its own client's
 * connection and this entry's one or two per server (memcached's -c is
 * sized from it).  A transaction under another configuration (SET LOCAL
 * pylibmc_pg.namespace per tenant) builds its clients again, and connects.
 */
#define PMC_CONFIG_CACHE		1

typedef struct BatchConfig
{
	char	   *signature;		/* the settings (client.c's signature), in
								 * TopMemoryContext */
	uint64		generation;		/* pmc_settings_generation it last matched */
	char	   *namespace;		/* for messages */
	char	   *servers;		/* the settings' text, for the log */
	char	   *behaviors;
	bool		servers_by_role;	/* pmc_servers_chosen_by_role() then */
	bool		binary;
	bool		udp;
	memcached_st *acked;		/* ordinary client */
	memcached_st *quiet;		/* NOREPLY + BUFFER_REQUESTS, or NULL */
	bool		pinned;			/* used by the open transaction */
	uint64		last_used;
} BatchConfig;

static BatchConfig **configs = NULL;
static int	nconfigs = 0;		/* allocated slots */
static uint64 use_clock = 0;
static int	last_config = -1;	/* the one pmc_inval_config() returned last */
static bool exit_registered = false;

/* the first failure of the last send that was not delivered, for the log */
static char last_failure[256] = "";
static int	last_failure_code = 0;	/* its SQLSTATE when it was an ERROR */
/* no WARNING of its own: the replay worker reports failures itself */
static bool send_quiet = false;

/* ---------- the configuration cache ---------- */

/*
 * Was this configuration's entry built from the settings in force?  Its
 * signature is client.c's (the password too, read from the password file
 * when one is set), compared once per settings generation.
 */
static bool
config_matches(BatchConfig *c)
{
	if (c->generation == pmc_settings_generation)
		return true;
	if (strcmp(c->signature, pmc_settings_signature()) != 0)
		return false;
	c->generation = pmc_settings_generation;
	return true;
}

static void
free_config(int i)
{
	BatchConfig *c = configs[i];

	if (c == NULL)
		return;
	if (c->acked)
		memcached_free(c->acked);
	if (c->quiet)
		memcached_free(c->quiet);
	pfree(c->signature);
	pfree(c->namespace);
	pfree(c->servers);
	pfree(c->behaviors);
	pfree(c);
	configs[i] = NULL;
	if (last_config == i)
		last_config = -1;
}

static void
free_all_configs(int code, Datum arg)
{
	for (int i = 0; i < nconfigs; i++)
		free_config(i);
}

/* The quiet client; acked is freed if that fails */
static memcached_st *
new_quiet_client(memcached_st *acked)
{
	memcached_st *volatile quiet = NULL;

	PG_TRY();
	{
		quiet = pmc_new_client(true);
	}
	PG_CATCH();
	{
		memcached_free(acked);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return quiet;
}

/* Free unpinned entries beyond PMC_CONFIG_CACHE, least recently used first */
static void
trim_cache(void)
{
	for (;;)
	{
		int			unpinned = 0;
		int			oldest = -1;

		for (int i = 0; i < nconfigs; i++)
		{
			if (configs[i] == NULL || configs[i]->pinned)
				continue;
			unpinned++;
			if (oldest < 0 || configs[i]->last_used < configs[oldest]->last_used)
				oldest = i;
		}
		if (unpinned <= PMC_CONFIG_CACHE)
			return;
		free_config(oldest);
	}
}

/*
 * The configuration in force now, as a number for the queue: pinned until
 * pmc_inval_unpin_all().  ERROR when the settings cannot make a client
 * (no servers, inconsistent settings), as any other call would.  No I/O.
 */
int
pmc_inval_config(void)
{
	int			slot = -1;
	BatchConfig *c;
	MemoryContext old;
	memcached_st *acked;
	memcached_st *quiet = NULL;
	const char *signature;

	if (last_config >= 0 && config_matches(configs[last_config]))
	{
		c = configs[last_config];
		c->pinned = true;
		c->last_used = ++use_clock;
		return last_config;
	}
	for (int i = 0; i < nconfigs; i++)
	{
		if (configs[i] != NULL && config_matches(configs[i]))
		{
			configs[i]->pinned = true;
			configs[i]->last_used = ++use_clock;
			last_config = i;
			return i;
		}
	}

	if (!exit_registered)
	{
		on_proc_exit(free_all_configs, (Datum) 0);
		exit_registered = true;
	}
	trim_cache();
	for (int i = 0; i < nconfigs; i++)
		if (configs[i] == NULL)
		{
			slot = i;
			break;
		}
	if (slot < 0)
	{
		int			n = Max(nconfigs * 2, PMC_CONFIG_CACHE + 1);

		if (configs == NULL)
			configs = MemoryContextAllocZero(TopMemoryContext, n * sizeof(BatchConfig *));
		else
		{
			configs = repalloc(configs, n * sizeof(BatchConfig *));
			memset(configs + nconfigs, 0, (n - nconfigs) * sizeof(BatchConfig *));
		}
		slot = nconfigs;
		nconfigs = n;
	}

	/* before any client is malloc'd: it may ERROR, and stays valid meanwhile */
	signature = pmc_settings_signature();
	acked = pmc_new_client(false);
	if (!pmc_client_is_udp())
		quiet = new_quiet_client(acked);
	old = MemoryContextSwitchTo(TopMemoryContext);
	c = palloc0(sizeof(BatchConfig));
	c->binary = pmc_binary;
	c->udp = pmc_client_is_udp();
	c->acked = acked;
	c->quiet = quiet;
	c->signature = pstrdup(signature);
	c->generation = pmc_settings_generation;
	c->namespace = pstrdup(pmc_namespace ? pmc_namespace : "");
	c->servers = pstrdup(GetConfigOption("pylibmc_pg.servers", false, false));
	c->behaviors = pstrdup(GetConfigOption("pylibmc_pg.behaviors", false, false));
	c->servers_by_role = pmc_servers_chosen_by_role();
	MemoryContextSwitchTo(old);
	c->pinned = true;
	c->last_used = ++use_clock;
	configs[slot] = c;
	last_config = slot;
	return slot;
}

/*
 * What the invalidation log writes of a configuration: where and how its
 * keys go, never a credential.  The strings stay valid while the entry is
 * pinned.
 */
void
pmc_inval_config_describe(int config, PmcInvalDesc *desc)
{
	BatchConfig *c;

	Assert(config >= 0 && config < nconfigs && configs[config] != NULL);
	c = configs[config];
	desc->servers = c->servers;
	desc->behaviors = c->behaviors;
	desc->namespace = c->namespace;
	desc->binary = c->binary;
	desc->udp = c->udp;
	desc->servers_by_role = c->servers_by_role;
}

/* The transaction is over: its configurations may be evicted again */
void
pmc_inval_unpin_all(void)
{
	for (int i = 0; i < nconfigs; i++)
		if (configs[i] != NULL)
			configs[i]->pinned = false;
	trim_cache();
}

/*
 * Close the connections of every batch client (after a failure, and for
 * mc_disconnect_all()).
 */
void
pmc_inval_disconnect(void)
{
	for (int i = 0; i < nconfigs; i++)
	{
		if (configs[i] == NULL)
			continue;
		pmc_quit_guarded(configs[i]->acked);
		pmc_quit_guarded(configs[i]->quiet);
	}
}

/* ---------- the commit-time send ---------- */

/*
 * One configuration's part of the send.  The keys arrive in chunks (the
 * queue hands them over as it reads them, from memory or from its
 * temporary file): the counts, the failed servers and the barrier keys
 * carry over from one chunk to the next, so a dead server still costs one
 * connect timeout and the barrier is one get per server at the end.
 */
typedef struct SendState
{
	BatchConfig *config;
	memcached_st *mc;			/* the client the batch goes through */
	memcached_st *route;		/* the acknowledged client: its routing is
								 * the truth */
	bool		is_main;		/* route is the main client (stats by server) */
	bool		quiet;
	bool		broken;			/* libmemcached aborted or an ERROR: the
								 * remaining keys are not sent */
	time_t		hold;			/* > 0: store tombstones for that long */
	uint32_t	nservers;
	long	   *sent;			/* per server: keys sent */
	long	   *failed;			/* per server: keys not deleted */
	long	   *unacked;		/* per server: quiet keys, counted at the barrier */
	size_t	   *unacked_bytes;	/* per server: their key bytes */
	bool	   *dead;			/* per server: failed, skip its other keys */
	bool	   *checked;		/* per server: its quiet connection was
								 * checked in this send */
	int		   *last;			/* per server: index in the chunk of the
								 * last quiet key, or -1 */
	char	  (*barrier)[PMC_MAX_KEY_LEN + 1];	/* per server: the last
												 * quiet key, for the
												 * barrier */
	uint8	   *barrier_len;	/* 0: no quiet key went to that server */
	const char *const *keys;	/* the current chunk */
	const uint32 *lens;
	int			nkeys;
	long		total;			/* keys handed over, every chunk */
	memcached_return_t first_rc;
	int			first_server;	/* -1: no failure yet */
	int			first_errno;
	memcached_st *first_mc;		/* the client that failed first */
} SendState;

struct PmcInvalSend
{
	MemoryContext cxt;
	int			hold;
	bool		lost;			/* keys were lost before they were handed
								 * over, or a configuration failed */
	int			nstates;		/* nconfigs when the send began */
	SendState **states;			/* by configuration, created on first use */
};

/* a configuration whose state could not be built: its keys are dropped */
#define SEND_STATE_FAILED	((SendState *) -1)

static void
note_failure(SendState *st, memcached_st *mc, int server, memcached_return_t rc)
{
	if (st->first_server < 0)
	{
		st->first_server = server;
		st->first_rc = rc;
		st->first_errno = memcached_last_error_errno(mc);
		st->first_mc = mc;
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

	if (mc == NULL || index < 0 || (uint32_t) index >= memcached_server_count(mc))
		return pstrdup("(unknown)");
	inst = memcached_server_instance_by_position(mc, (uint32_t) index);
	return pmc_instance_name(inst);
}

/* Every key sent so far counts as failed (their fate is unknown) */
static void
fail_all_sent(SendState *st)
{
	for (uint32_t s = 0; s < st->nservers; s++)
	{
		st->failed[s] += st->sent[s];
		st->sent[s] = 0;
	}
}

/* Keys that were never sent: failed, counted as errors in the statistics */
static void
count_lost(SendState *st, long n)
{
	if (st != NULL && st != SEND_STATE_FAILED)
		st->failed[0] += n;
	pmc_stats_count_calls(UINT32_MAX, PMC_OP_INVALIDATE, PMC_ERROR, n, 0, 0);
}

static void barrier_server(SendState *st, uint32_t s, const char *key, size_t keylen);

/* the key the connection check asks for: never stored, so a miss */
#define PMC_CHECK_KEY			"pylibmc_pg:connection-check"

/*
 * Before the first quiet key of this send to server s (key routes there):
 * is the quiet connection still open?  A memcached restarted since the
 * last batch has closed it, and a quiet request written to a closed
 * connection may succeed locally: only the barrier would see the failure,
 * after every key of the server was sent for nothing.  So one get (of a
 * key never stored, routed by key: a miss, and nothing else to read) is
 * sent first; if the connection turns out closed by the server,
 * libmemcached has dropped it and the get is sent once more on a new one,
 * as pmc_client_request() retries an idempotent request.  A server that
 * still fails is dead for this send (its keys are skipped and counted
 * failed, as before).  One round trip per server and batch.
 */
static void
check_connection(SendState *st, uint32_t s, const char *key, size_t len)
{
	memcached_return_t rc = MEMCACHED_SUCCESS;

	st->checked[s] = true;
	for (int attempt = 0; attempt < 2; attempt++)
	{
		size_t		vlen;
		uint32_t	flags;
		char	   *value;

		value = memcached_get_by_key(st->mc, key, len,
									 PMC_CHECK_KEY, sizeof(PMC_CHECK_KEY) - 1,
									 &vlen, &flags, &rc);
		if (value)
			free(value);
		if (!pmc_client_connection_was_dead(st->mc, rc))
			break;
	}
	if (rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTFOUND)
		return;
	note_failure(st, st->mc, (int) s, rc);
	if (pmc_rc_is_server_failure(rc))
		st->dead[s] = true;
}

/*
 * One acknowledged delete, or tombstone set; once more on a new connection
 * if the server had closed this one (both are idempotent).
 */
static memcached_return_t
send_acked(SendState *st, memcached_st *via, const char *key, size_t len)
{
	memcached_return_t rc = MEMCACHED_SUCCESS;

	for (int attempt = 0; attempt < 2; attempt++)
	{
		if (st->hold > 0)
			rc = memcached_set(via, key, len, PMC_TOMBSTONE, PMC_TOMBSTONE_LEN,
							   st->hold, PMC_TOMBSTONE_FLAGS);
		else
			rc = memcached_delete(via, key, len, 0);
		if (!pmc_client_connection_was_dead(via, rc))
			break;
	}
	return rc;
}

/*
 * Send the keys of one chunk.  May ERROR (the caller turns it into a
 * WARNING).  In ASCII, st->mc is the quiet client: the keys go out in
 * writes of libmemcached's buffer size, flushed every PMC_BATCH_KEYS keys
 * so the server works while we still send; the barrier comes at the end
 * of the send (barrier_guarded).
 */
static void
send_keys_guarded(void *arg)
{
	SendState  *st = (SendState *) arg;
	memcached_st *mc = st->mc;
	int			since_flush = 0;

	for (int i = 0; i < st->nkeys; i++)
	{
		const char *key = st->keys[i];
		size_t		len = st->lens[i];
		uint32_t	s = server_of(st, key, len);
		memcached_st *via = mc;
		bool		buffered = st->quiet;
		memcached_return_t rc;
		instr_time	start;
		PmcOutcome	outcome = PMC_HIT;

		/*
		 * Each client keeps its own record of failed servers: while one of
		 * them has ejected a server (remove_failed) and the other has not,
		 * they route some keys differently.  Such a key goes where the
		 * acknowledged client routes it, acknowledged.
		 */
		if (st->quiet && st->nservers > 1 && memcached_generate_hash(mc, key, len) != s)
		{
			via = st->route;
			buffered = false;
		}

		/* the first quiet key for s in this send: is its connection open? */
		if (buffered && !st->checked[s] && !st->dead[s])
			check_connection(st, s, key, len);

		if (st->dead[s])
		{
			/* this server already failed in this send: skip its keys */
			st->failed[s]++;
			pmc_stats_count_calls(st->is_main ? s : UINT32_MAX, PMC_OP_INVALIDATE,
								  PMC_ERROR, 1, len, 0);
			continue;
		}

		/* a quiet key is counted at the barrier: no time of its own */
		if (!buffered)
		{
			INSTR_TIME_SET_CURRENT(start);
			rc = send_acked(st, via, key, len);
		}
		else if (st->hold > 0)
			rc = memcached_set(via, key, len, PMC_TOMBSTONE, PMC_TOMBSTONE_LEN,
							   st->hold, PMC_TOMBSTONE_FLAGS);
		else
			rc = memcached_delete(via, key, len, 0);
		switch (rc)
		{
			case MEMCACHED_SUCCESS:
			case MEMCACHED_DELETED:
			case MEMCACHED_STORED:
			case MEMCACHED_BUFFERED:
				st->sent[s]++;
				if (buffered)
				{
					st->last[s] = i;	/* the barrier's key for s */
					st->unacked[s]++;
					st->unacked_bytes[s] += len;
					outcome = PMC_OUTCOME_UNSET;	/* known at the barrier */
				}
				break;
			case MEMCACHED_NOTFOUND:
				st->sent[s]++;
				outcome = PMC_MISS;
				break;
			default:
				st->failed[s]++;
				outcome = PMC_ERROR;
				note_failure(st, via, (int) s, rc);
				if (pmc_rc_is_server_failure(rc))
					st->dead[s] = true;
				break;
		}
		if (outcome != PMC_OUTCOME_UNSET && buffered)
			/* a quiet key that failed at once: no time of its own either */
			pmc_stats_count_calls(st->is_main ? s : UINT32_MAX, PMC_OP_INVALIDATE,
								  outcome, 1, len, 0);
		else if (outcome != PMC_OUTCOME_UNSET)
			pmc_stats_count_server(st->is_main ? s : UINT32_MAX, PMC_OP_INVALIDATE,
								   outcome, len, 0, start);

		if (buffered && ++since_flush >= PMC_BATCH_KEYS)
		{
			if (st->config->binary)
				/* read what the server answered so far, before it stalls */
				for (uint32_t b = 0; b < st->nservers; b++)
				{
					if (st->unacked[b] == 0 || st->last[b] < 0 || st->dead[b])
						continue;
					barrier_server(st, b, st->keys[st->last[b]], st->lens[st->last[b]]);
				}
			else
				(void) memcached_flush_buffers(mc);
			since_flush = 0;
		}
	}
}

/*
 * Barrier: one get per server that got quiet requests, on the same
 * connection (the get flushes what is still buffered first).  Its reply
 * proves the requests before it were applied.
 */
static void
barrier_guarded(void *arg)
{
	SendState  *st = (SendState *) arg;

	for (uint32_t s = 0; s < st->nservers; s++)
	{
		if (st->barrier_len[s] == 0)
			continue;
		barrier_server(st, s, st->barrier[s], st->barrier_len[s]);
		st->barrier_len[s] = 0;
	}
}

/*
 * The barrier of one server, whose last quiet key was key: a get of it;
 * the server's quiet keys since the last barrier are counted now.
 */
static void
barrier_server(SendState *st, uint32_t s, const char *key, size_t keylen)
{
	size_t		vlen;
	uint32_t	flags;
	memcached_return_t rc;
	char	   *value;
	bool		applied;

	value = memcached_get(st->mc, key, keylen, &vlen, &flags, &rc);
	if (value)
		free(value);
	applied = (rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTFOUND);
	if (!applied)
	{
		/* not known to be applied: count the server's keys failed */
		st->failed[s] += st->sent[s];
		st->sent[s] = 0;
		note_failure(st, st->mc, (int) s, rc);
		if (pmc_rc_is_server_failure(rc))
			st->dead[s] = true;	/* its further keys are skipped */
	}

	/*
	 * The quiet keys count now that it is known whether they were applied:
	 * a silent server's keys are errors, not hits.  All at once, with no
	 * time of their own (what they took is the barrier's wait, which is not
	 * split among them).
	 */
	pmc_stats_count_calls(st->is_main ? s : UINT32_MAX, PMC_OP_INVALIDATE,
						  applied ? PMC_HIT : PMC_ERROR, st->unacked[s],
						  st->unacked_bytes[s], 0);
	st->unacked[s] = 0;
	st->unacked_bytes[s] = 0;
}

/*
 * fn(st) under the guard (pmc_client_guarded()): waits bounded by the
 * timeouts, the C locale, and a libmemcached abort() caught (a reply that
 * fits no request, from a wrong service or a desynchronised connection):
 * then no key of this
 * configuration is known to be deleted, and the rest of them are not sent
 * (the main client has been rebuilt).
 */
static void
guarded(SendState *st, void (*fn) (void *arg))
{
	if (pmc_client_guarded(fn, st))
		return;
	fail_all_sent(st);
	st->broken = true;
	note_failure(st, st->mc, 0, MEMCACHED_PROTOCOL_ERROR);
	pmc_inval_disconnect();
}

/* An ERROR while sending is a WARNING: the transaction has committed */
static void
warn_caught(MemoryContext cxt)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	pmc_guard_reset();
	pmc_disconnect_all();		/* the batch clients' too */
	/* the send's first failure, for the replay worker (no secret in it) */
	if (last_failure[0] == '\0')
	{
		snprintf(last_failure, sizeof(last_failure), "%s", edata->message);
		last_failure_code = edata->sqlerrcode;
	}
	if (!send_quiet)
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("could not send the deletes queued by mc_delete_on_commit: %s",
						edata->message),
				 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
				 errhint("The transaction committed; those cache entries may be stale until they expire.")));
	FreeErrorData(edata);
}

static SendState *
new_state(PmcInvalSend *send, int config)
{
	BatchConfig *c = configs[config];
	SendState  *st = palloc0(sizeof(SendState));

	st->config = c;
	st->first_server = -1;
	st->hold = send->hold;

	/*
	 * The main client when it has these very settings (it keeps one
	 * ordinary connection per server); our own otherwise.
	 */
	if (config_matches(c))
	{
		st->route = pmc_client();
		st->is_main = true;
	}
	else
		st->route = c->acked;
	st->quiet = (c->quiet != NULL);
	st->mc = st->quiet ? c->quiet : st->route;
	st->nservers = Max(memcached_server_count(st->mc), 1);
	st->sent = palloc0(st->nservers * sizeof(long));
	st->failed = palloc0(st->nservers * sizeof(long));
	st->unacked = palloc0(st->nservers * sizeof(long));
	st->unacked_bytes = palloc0(st->nservers * sizeof(size_t));
	st->dead = palloc0(st->nservers * sizeof(bool));
	st->checked = palloc0(st->nservers * sizeof(bool));
	st->last = palloc(st->nservers * sizeof(int));
	st->barrier = palloc(st->nservers * sizeof(*st->barrier));
	st->barrier_len = palloc0(st->nservers * sizeof(uint8));
	return st;
}

/*
 * Begin the commit-time send.  Never raises an ERROR (the transaction has
 * committed): NULL, after a WARNING, when there is no memory for it.
 */
PmcInvalSend *
pmc_inval_send_begin(int hold)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	PmcInvalSend *volatile send = NULL;

	PG_TRY();
	{
		MemoryContext cxt = AllocSetContextCreate(oldcxt,
												  "pylibmc_pg delete_on_commit send",
												  ALLOCSET_DEFAULT_SIZES);

		send = MemoryContextAllocZero(cxt, sizeof(PmcInvalSend));
		send->cxt = cxt;
		send->hold = hold;
		send->nstates = nconfigs;
		last_failure[0] = '\0';
		last_failure_code = 0;
		send->states = MemoryContextAllocZero(cxt, Max(nconfigs, 1) * sizeof(SendState *));
	}
	PG_CATCH();
	{
		warn_caught(oldcxt);
		send = NULL;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	return send;
}

/*
 * Send n keys of one configuration (namespace not included: the clients
 * add it).  The keys need to stay valid only during the call.  Never
 * raises an ERROR.
 */
void
pmc_inval_send_keys(PmcInvalSend *send, int config, const char *const *keys,
					const uint32 *lens, int n)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	SendState  *volatile st;

	if (send == NULL || n <= 0)
		return;
	Assert(config >= 0 && config < send->nstates && configs[config] != NULL);
	st = send->states[config];
	if (st == SEND_STATE_FAILED)
	{
		count_lost(NULL, n);
		return;
	}
	if (st != NULL && st->broken)
	{
		count_lost(st, n);
		return;
	}
	PG_TRY();
	{
		MemoryContextSwitchTo(send->cxt);
		if (st == NULL)
			send->states[config] = st = new_state(send, config);
		st->keys = keys;
		st->lens = lens;
		st->nkeys = n;
		st->total += n;
		for (uint32_t s = 0; s < st->nservers; s++)
			st->last[s] = -1;
		guarded(st, send_keys_guarded);
		/* the barrier's keys outlive the chunk */
		for (uint32_t s = 0; s < st->nservers; s++)
		{
			int			k = st->last[s];

			if (k < 0 || st->broken)
				continue;
			memcpy(st->barrier[s], keys[k], lens[k]);
			st->barrier_len[s] = (uint8) lens[k];
		}
	}
	PG_CATCH();
	{
		warn_caught(oldcxt);
		if (st == NULL)
		{
			send->states[config] = SEND_STATE_FAILED;
			count_lost(NULL, n);
		}
		else
		{
			fail_all_sent(st);
			st->broken = true;
		}
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
}

/* n keys of the transaction that could not be handed over: errors */
void
pmc_inval_send_lost(PmcInvalSend *send, long n)
{
	if (send != NULL)
		send->lost = true;
	count_lost(NULL, n);
}

const char *
pmc_inval_send_last_failure(void)
{
	return last_failure;
}

/*
 * Quiet: the sends' failures are recorded (pmc_inval_send_last_failure)
 * but not reported in a WARNING.  For the replay worker, which retries
 * every second while a server is down and reports once per transaction.
 */
void
pmc_inval_send_quiet(bool quiet)
{
	send_quiet = quiet;
}

/* The SQLSTATE of the last send's first failure, 0 when it was no ERROR */
int
pmc_inval_send_last_failure_code(void)
{
	return last_failure_code;
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
	server = server_name(st->first_mc, st->first_server);
	reason = memcached_strerror(st->first_mc, st->first_rc);
	snprintf(last_failure, sizeof(last_failure),
			 "could not delete %ld of %ld keys: memcached server %s: %s",
			 nfailed, st->total, server, reason);
	if (send_quiet ||
		(pmc_rc_is_server_failure(st->first_rc) && pmc_on_error == PMC_ON_ERROR_IGNORE))
		return;
	ereport(WARNING,
			(errcode(pmc_rc_is_server_failure(st->first_rc) ?
					 ERRCODE_CONNECTION_FAILURE : ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("could not delete %ld of %ld keys queued by mc_delete_on_commit",
					nfailed, st->total),
			 (st->first_rc == MEMCACHED_ERRNO && st->first_errno != 0) ?
			 errdetail("Memcached server %s: libmemcached: %s: %s.", server, reason,
					   strerror(st->first_errno)) :
			 errdetail("Memcached server %s: libmemcached: %s.", server, reason),
			 errhint("The transaction committed; those cache entries may be stale until they expire.")));
}

/* One configuration's barrier and WARNING; never raises an ERROR */
static void
end_state(PmcInvalSend *send, SendState *st)
{
	MemoryContext oldcxt = CurrentMemoryContext;

	PG_TRY();
	{
		MemoryContextSwitchTo(send->cxt);
		if (st->quiet && !st->broken)
			guarded(st, barrier_guarded);
		if (st->first_server >= 0)
		{
			/* a failed server may have left a reply (the batch clients' too) */
			pmc_disconnect_all();
		}
		report_failures(st);
	}
	PG_CATCH();
	{
		warn_caught(oldcxt);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
}

/* Was every key of this configuration's part acknowledged by its server? */
static bool
state_delivered(SendState *st)
{
	if (st->broken || st->first_server >= 0 || st->config->udp)
		return false;
	for (uint32_t s = 0; s < st->nservers; s++)
		if (st->failed[s] > 0 || st->unacked[s] > 0)
			return false;
	return true;
}

/*
 * End the send: the barrier of each configuration, then its WARNING if
 * some keys were not deleted.  Never raises an ERROR; the send's memory is
 * freed.  Returns true when every key was acknowledged by every server it
 * went to (over UDP nothing is: false); false too when there was no send.
 */
bool
pmc_inval_send_end(PmcInvalSend *send)
{
	bool		delivered;

	if (send == NULL)
		return false;
	delivered = !send->lost;
	for (int i = 0; i < send->nstates; i++)
	{
		if (send->states[i] == SEND_STATE_FAILED)
			delivered = false;
		else if (send->states[i] != NULL)
		{
			end_state(send, send->states[i]);
			if (!state_delivered(send->states[i]))
				delivered = false;
		}
	}
	if (delivered)
	{
		last_failure[0] = '\0';
		last_failure_code = 0;
	}
	else if (last_failure[0] == '\0')
		snprintf(last_failure, sizeof(last_failure), "some keys could not be sent");
	MemoryContextDelete(send->cxt);
	return delivered;
}
