/*-------------------------------------------------------------------------
 *
 * exchange.c
 *	  The one guarded path every libmemcached request goes through, and the
 *	  one place its failures are reported.
 *
 * pmc_exchange() runs a small function that makes the libmemcached calls
 * of one request (send and read to the end) and owns everything around
 * it, so that no call site can forget a step:
 *
 *	- waits: libmemcached (our patched copy, patches/libmemcached) asks
 *	  pmc_guard_wait() before every wait how long it may last.  An exchange
 *	  is held to one deadline, _poll_timeout after its first wait for the
 *	  server (a connect has its own connect_timeout), however the server
 *	  drips its reply; and a cancel, statement_timeout or terminate that arrives
 *	  during a wait gives the request up at once (within a slice of
 *	  PMC_WAIT_SLICE_MS), libmemcached closes that connection, and the
 *	  interrupt takes effect when the exchange returns.  Signals are not
 *	  blocked: the patched library waits again for what is left of its
 *	  timeout after an EINTR.
 *	- the locale: libmemcached parses replies with iscntrl()/isspace(),
 *	  which under a single-byte LC_CTYPE accept bytes of UTF-8 keys; it
 *	  runs under the C locale (uselocale(), this thread only).
 *	- assertions: libmemcached abort()s when a server answers a storage
 *	  command with a reply that is no storage reply.  Such an abort inside
 *	  an exchange becomes an ERROR (08P01) and the client is rebuilt,
 *	  instead of a crash that restarts every session of the cluster.
 *	- an ERROR thrown from our own code inside the exchange (out of memory
 *	  while copying a reply) restores all of the above and closes the
 *	  connections, whose replies may be half read.
 *	- timing and this backend's counters (stats.c): every failure counts
 *	  as an error, whatever on_error then does with it.
 *	- failures: pmc_report_failure() turns a libmemcached result into an
 *	  ERROR, a WARNING or nothing (pylibmc_pg.on_error).
 *
 *-------------------------------------------------------------------------
 */
#include "pylibmc_pg.h"

#include <errno.h>
#include <locale.h>
#include <setjmp.h>
#include <signal.h>

#include "lib/stringinfo.h"
#include "libpq/pqsignal.h"
#include "miscadmin.h"
#include "utils/memutils.h"

/*
 * The longest a wait sleeps before pmc_guard_wait() is asked again: a signal
 * that arrives just before libmemcached enters poll() does not interrupt it,
 * so a cancel is seen at the latest this long after it arrived.
 */
#define PMC_WAIT_SLICE_MS	50

/* the guard's state: one exchange at a time in a backend */
typedef struct PmcGuard
{
	bool		active;
	locale_t	saved_locale;

	/*
	 * One request (pmc_exchange) is held to a deadline: set at its first
	 * wait for the server, _poll_timeout later (ms on the monotonic clock).
	 */
	bool		bounded;
	int64		deadline;		/* 0: not set yet */
	bool		gave_up;		/* pmc_guard_wait() gave a wait up */
} PmcGuard;

static PmcGuard guard;
static locale_t c_locale = (locale_t) 0;

/* where a libmemcached abort() inside an exchange jumps to */
static sigjmp_buf *volatile abort_target = NULL;
static bool abort_handler_installed = false;

/*
 * Servers that failed in the current multi-key call, by index: such a
 * server costs one timeout per call, not one per key.
 */
static bool *failed_in_call = NULL;
static uint32_t failed_in_call_size = 0;
static bool call_tracking = false;

static void
abort_handler(SIGNAL_ARGS)
{
	if (abort_target != NULL)
		siglongjmp(*abort_target, 1);
	/* not inside an exchange: the default action (a core, as before) */
	signal(SIGABRT, SIG_DFL);
	raise(SIGABRT);
}

static void
guard_init(void)
{
	if (c_locale == (locale_t) 0)
	{
		c_locale = newlocale(LC_ALL_MASK, "C", (locale_t) 0);
		if (c_locale == (locale_t) 0)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory"),
					 errdetail("Could not create the C locale for memcached exchanges.")));
	}
	if (!abort_handler_installed)
	{
		pqsignal(SIGABRT, abort_handler);
		abort_handler_installed = true;
	}
}

static int64
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Enter the guard: C locale, no deadline.  pmc_guard_leave() undoes it; an
 * ERROR escaping in between is undone by pmc_guard_reset() from the
 * (sub)transaction abort callbacks.
 */
void
pmc_guard_enter(void)
{
	if (unlikely(c_locale == (locale_t) 0 || !abort_handler_installed))
		guard_init();
	if (guard.active)
		pmc_guard_reset();
	guard.saved_locale = uselocale(c_locale);
	guard.bounded = false;
	guard.deadline = 0;
	guard.gave_up = false;
	guard.active = true;
	pmc_io_begin();
}

void
pmc_guard_leave(void)
{
	if (!guard.active)
		return;
	guard.active = false;
	uselocale(guard.saved_locale);
	pmc_io_end();
}

/*
 * Hold what runs in the guard from now on to one deadline, _poll_timeout
 * after its first wait for a reply (set by pmc_guard_wait(), which is told
 * the timeout: reading the clock only when a wait comes costs nothing to a
 * request whose reply is already there).
 */
static inline void
guard_bound_request(void)
{
	guard.bounded = true;
}

/*
 * libmemcached's wait callback (memcached_set_wait_callback): how long the
 * coming wait may last, 0 to give the request up.  Only flags are read here
 * (signal handlers set them); the interrupt itself is processed by
 * CHECK_FOR_INTERRUPTS() once libmemcached has returned.  Where interrupts
 * are held off (the commit-time batch runs after the commit record, with
 * interrupts held), a cancel does not stop the wait: the configured
 * timeouts do.
 */
int32_t
pmc_guard_wait(const memcached_st *mc, bool connecting, int32_t timeout, void *context)
{
	int64		left;

	int64		now;

	if (INTERRUPTS_CAN_BE_PROCESSED() && (QueryCancelPending || ProcDiePending))
	{
		guard.gave_up = true;
		return 0;
	}
	if (connecting || !guard.active || !guard.bounded)
		return Min(timeout, PMC_WAIT_SLICE_MS);
	now = monotonic_ms();
	if (guard.deadline == 0)
		guard.deadline = now + timeout;
	left = guard.deadline - now;
	if (left <= 0)
	{
		guard.gave_up = true;
		return 0;
	}
	return (int32_t) Min(Min(left, (int64) timeout), PMC_WAIT_SLICE_MS);
}

/*
 * Did pmc_guard_wait() give a wait of this request up (its deadline passed,
 * or a cancel is pending)?  A request made of several libmemcached calls
 * (a multi-get in chunks) stops there instead of starting the next one.
 */
bool
pmc_guard_gave_up(void)
{
	return guard.active && guard.gave_up;
}

/* After an ERROR inside the guard: restore, and drop half-read replies */
void
pmc_guard_reset(void)
{
	abort_target = NULL;
	if (guard.active)
	{
		guard.active = false;
		pmc_reset_connections();
		uselocale(guard.saved_locale);
	}
	call_tracking = false;
}

/*
 * memcached_quit() waits too (it sends "quit" and, for a buffered client,
 * reads what is left); its waits are bounded by the configured timeouts
 * and pmc_guard_wait(), as any other.
 */
void
pmc_quit_guarded(memcached_st *mc)
{
	if (mc == NULL)
		return;
	memcached_quit(mc);
}

/* ---------- per-call failed servers ---------- */

/*
 * A multi-key call starts: from now until pmc_call_end(), a server that
 * fails is remembered and its further keys are not sent.
 */
void
pmc_call_begin(memcached_st *mc)
{
	uint32_t	n = memcached_server_count(mc);

	if (n > failed_in_call_size)
	{
		if (failed_in_call)
			pfree(failed_in_call);
		failed_in_call = MemoryContextAllocZero(TopMemoryContext, n * sizeof(bool));
		failed_in_call_size = n;
	}
	memset(failed_in_call, 0, failed_in_call_size * sizeof(bool));
	call_tracking = true;
}

void
pmc_call_end(void)
{
	call_tracking = false;
}

/* The index of the server a key goes to (libmemcached's distribution) */
uint32_t
pmc_server_index(memcached_st *mc, const char *key, size_t keylen)
{
	if (memcached_server_count(mc) <= 1)
		return 0;
	return memcached_generate_hash(mc, key, keylen);
}

/* Did the server of this key fail earlier in this call? */
bool
pmc_call_server_failed(memcached_st *mc, const char *key, size_t keylen)
{
	uint32_t	index;

	if (!call_tracking)
		return false;
	index = pmc_server_index(mc, key, keylen);
	return index < failed_in_call_size && failed_in_call[index];
}

static void
remember_failed_server(memcached_st *mc, const char *key, size_t keylen)
{
	uint32_t	index;

	if (!call_tracking || key == NULL)
		return;
	index = pmc_server_index(mc, key, keylen);
	if (index < failed_in_call_size)
		failed_in_call[index] = true;
}

/* ---------- the exchange ---------- */

/*
 * What an rc means for the counters, unless the caller said otherwise:
 * a hit, a miss (not found, not stored), or an error.
 */
static bool rc_may_desync(memcached_return_t rc);

static PmcOutcome
default_outcome(memcached_return_t rc)
{
	switch (rc)
	{
		case MEMCACHED_SUCCESS:
		case MEMCACHED_STORED:
		case MEMCACHED_DELETED:
			return PMC_HIT;
		case MEMCACHED_NOTFOUND:
		case MEMCACHED_NOTSTORED:
		case MEMCACHED_DATA_EXISTS:
		case MEMCACHED_END:
			return PMC_MISS;
		default:
			return PMC_ERROR;
	}
}

/*
 * Did the request fail because its connection was already closed by the
 * server (a memcached restarted while we were idle)?  libmemcached closes
 * it on the way and reconnects on the next request, so one more try of an
 * idempotent request makes the first call after a restart succeed.
 */
static bool
connection_was_dead(memcached_st *mc, memcached_return_t rc)
{
	int			err;
	const char *message;

	switch (rc)
	{
		case MEMCACHED_CONNECTION_FAILURE:
		case MEMCACHED_WRITE_FAILURE:
		case MEMCACHED_ERRNO:
		case MEMCACHED_READ_FAILURE:
		case MEMCACHED_UNKNOWN_READ_FAILURE:
		case MEMCACHED_SOME_ERRORS:
			err = memcached_last_error_errno(mc);
			if (err == ECONNRESET || err == EPIPE)
				return true;
			message = memcached_last_error_message(mc);
			return message != NULL && strstr(message, "server has disconnected") != NULL;
		default:
			return false;
	}
}

/*
 * Run fn(mc, arg) under the guard, count the outcome, report a failure.
 *
 * The outcome is x->outcome if fn set it (PMC_HIT/PMC_MISS), else what
 * the rc means.  A failure is reported here (an ERROR, a WARNING or
 * nothing, per on_error) unless its rc is x->caller_handles, which the
 * caller then reports itself.  Returns the outcome: PMC_ERROR means the
 * request failed and on_error let the call go on.  A pending cancel or
 * timeout takes effect when the exchange is over.
 */
/* pmc_exchange()'s request, as pmc_guarded_call() runs it */
typedef struct ExchangeCall
{
	PmcExchange *x;
	PmcExchangeFn fn;
	void	   *arg;
	memcached_return_t rc;
} ExchangeCall;

static void
run_exchange_fn(void *arg)
{
	ExchangeCall *c = (ExchangeCall *) arg;

	guard_bound_request();
	c->rc = c->fn(c->x->mc, c->arg);
	if (c->x->retry_safe && connection_was_dead(c->x->mc, c->rc))
	{
		guard.deadline = 0;		/* the retry has a deadline of its own */
		c->rc = c->fn(c->x->mc, c->arg);
	}
}

PmcOutcome
pmc_exchange(PmcExchange *x, PmcExchangeFn fn, void *arg)
{
	ExchangeCall c = {x, fn, arg, MEMCACHED_SUCCESS};
	memcached_return_t rc;
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	x->outcome = PMC_OUTCOME_UNSET;
	if (!pmc_guarded_call(run_exchange_fn, &c))
	{
		/* libmemcached's state may be anything: the client is rebuilt */
		rc = MEMCACHED_PROTOCOL_ERROR;
		x->outcome = PMC_OUTCOME_UNSET;
		x->abort_caught = true;
	}
	else
		rc = c.rc;
	x->rc = rc;
	if (x->outcome == PMC_OUTCOME_UNSET)
		x->outcome = default_outcome(rc);
	if (x->failed_servers != NULL && x->outcome != PMC_ERROR)
		x->outcome = PMC_ERROR;
	if (x->op < PMC_NUM_OPS)
		pmc_stats_count(x->mc, x->op, x->key, x->keylen, x->outcome,
						x->sent, x->received, start);
	if (x->outcome != PMC_ERROR)
		pmc_client_request_ok();
	else if (rc_may_desync(rc))
		pmc_reset_connections();

	/* handle signals that arrived meanwhile: a cancel ends the call here */
	CHECK_FOR_INTERRUPTS();

	if (x->outcome == PMC_ERROR && !x->quiet &&
		!(x->caller_handles != MEMCACHED_SUCCESS && rc == x->caller_handles))
		pmc_report_failure(x);
	return x->outcome;
}

/*
 * Run fn(arg) under the guard, catching a libmemcached abort() as
 * pmc_exchange() does, for code that makes many requests under one guard
 * (the commit-time batch).  Returns false when libmemcached aborted: its
 * clients' state may then be anything, and the main client is rebuilt.
 */
bool
pmc_guarded_call(void (*fn) (void *arg), void *arg)
{
	sigjmp_buf	abort_jmp;
	volatile bool aborted = false;

	pmc_guard_enter();
	PG_TRY();
	{
		if (sigsetjmp(abort_jmp, 0) == 0)
		{
			abort_target = &abort_jmp;
			fn(arg);
		}
		else
			aborted = true;
		abort_target = NULL;
	}
	PG_CATCH();
	{
		pmc_guard_reset();
		PG_RE_THROW();
	}
	PG_END_TRY();
	pmc_guard_leave();
	if (aborted)
		pmc_mark_client_broken();
	return !aborted;
}

/*
 * After a fetch that ended as "no more replies": the failure libmemcached
 * recorded during this request (memcached_last_error() is cleared when a
 * request starts), which memcached_fetch_result() reports as NOTFOUND when
 * nothing was read in that fetch; MEMCACHED_SUCCESS if there was none.
 */
memcached_return_t
pmc_fetch_failure(memcached_st *mc)
{
	memcached_return_t last = memcached_last_error(mc);

	if (last == MEMCACHED_NOTFOUND || last == MEMCACHED_END)
		return MEMCACHED_SUCCESS;
	return last;
}

/* ---------- failures ---------- */

bool
pmc_rc_is_server_failure(memcached_return_t rc)
{
	switch (rc)
	{
		case MEMCACHED_HOST_LOOKUP_FAILURE:
		case MEMCACHED_CONNECTION_FAILURE:
		case MEMCACHED_CONNECTION_BIND_FAILURE:
		case MEMCACHED_WRITE_FAILURE:
		case MEMCACHED_READ_FAILURE:
		case MEMCACHED_UNKNOWN_READ_FAILURE:
		case MEMCACHED_PROTOCOL_ERROR:
		case MEMCACHED_SERVER_ERROR:
		case MEMCACHED_ERROR:
		case MEMCACHED_SOME_ERRORS:
		case MEMCACHED_NO_SERVERS:
		case MEMCACHED_ERRNO:
		case MEMCACHED_FAIL_UNIX_SOCKET:
		case MEMCACHED_TIMEOUT:
		case MEMCACHED_SERVER_MARKED_DEAD:
		case MEMCACHED_SERVER_TEMPORARILY_DISABLED:
		case MEMCACHED_SERVER_MEMORY_ALLOCATION_FAILURE:
		case MEMCACHED_PARTIAL_READ:
		case MEMCACHED_FETCH_NOTFINISHED:
		case MEMCACHED_IN_PROGRESS:
		case MEMCACHED_FAILURE:
			return true;
		default:
			return false;
	}
}

/* Does this failure leave a reply (or half of one) on some socket? */
static bool
rc_may_desync(memcached_return_t rc)
{
	switch (rc)
	{
		case MEMCACHED_TIMEOUT:
		case MEMCACHED_READ_FAILURE:
		case MEMCACHED_UNKNOWN_READ_FAILURE:
		case MEMCACHED_PROTOCOL_ERROR:
		case MEMCACHED_CLIENT_ERROR:
		case MEMCACHED_ERROR:
		case MEMCACHED_SERVER_ERROR:
		case MEMCACHED_SERVER_MEMORY_ALLOCATION_FAILURE:
		case MEMCACHED_PARTIAL_READ:
		case MEMCACHED_FETCH_NOTFINISHED:
		case MEMCACHED_IN_PROGRESS:
		case MEMCACHED_SOME_ERRORS:
		case MEMCACHED_FAILURE:
			return true;
		default:
			return false;
	}
}

static int
rc_sqlstate(memcached_return_t rc)
{
	switch (rc)
	{
		case MEMCACHED_HOST_LOOKUP_FAILURE:
		case MEMCACHED_CONNECTION_FAILURE:
		case MEMCACHED_CONNECTION_BIND_FAILURE:
		case MEMCACHED_FAIL_UNIX_SOCKET:
		case MEMCACHED_SERVER_MARKED_DEAD:
		case MEMCACHED_SERVER_TEMPORARILY_DISABLED:
		case MEMCACHED_NO_SERVERS:
			return ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION;
		case MEMCACHED_PROTOCOL_ERROR:
		case MEMCACHED_UNKNOWN_READ_FAILURE:
		case MEMCACHED_PARTIAL_READ:
		case MEMCACHED_ERROR:
			return ERRCODE_PROTOCOL_VIOLATION;
		case MEMCACHED_E2BIG:
		case MEMCACHED_KEY_TOO_BIG:
			return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
		case MEMCACHED_MEMORY_ALLOCATION_FAILURE:
			return ERRCODE_OUT_OF_MEMORY;
		case MEMCACHED_NOT_SUPPORTED:
			return ERRCODE_FEATURE_NOT_SUPPORTED;
		case MEMCACHED_AUTH_PROBLEM:
		case MEMCACHED_AUTH_FAILURE:
		case MEMCACHED_AUTH_CONTINUE:
			return ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
		case MEMCACHED_BAD_KEY_PROVIDED:
		case MEMCACHED_NO_KEY_PROVIDED:
		case MEMCACHED_INVALID_ARGUMENTS:
		case MEMCACHED_CLIENT_ERROR:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		default:
			if (pmc_rc_is_server_failure(rc))
				return ERRCODE_CONNECTION_FAILURE;
			return ERRCODE_EXTERNAL_ROUTINE_EXCEPTION;
	}
}

static const char *
rc_hint(memcached_return_t rc)
{
	switch (rc)
	{
		case MEMCACHED_E2BIG:
			return "The value is larger than the server's item size limit (memcached -I); compress it with min_compress_len, or store less.";
		case MEMCACHED_AUTH_FAILURE:
		case MEMCACHED_AUTH_PROBLEM:
			return "Check pylibmc_pg.username and pylibmc_pg.password.";
		case MEMCACHED_SERVER_TEMPORARILY_DISABLED:
		case MEMCACHED_SERVER_MARKED_DEAD:
			return "The server failed recently; it is tried again after retry_timeout seconds (pylibmc_pg.behaviors).";
		case MEMCACHED_PROTOCOL_ERROR:
		case MEMCACHED_UNKNOWN_READ_FAILURE:
		case MEMCACHED_PARTIAL_READ:
		case MEMCACHED_ERROR:
			return "Check that pylibmc_pg.servers names memcached servers (or a proxy that speaks the memcached protocol); the connection was closed.";
		default:
			if (pmc_rc_is_server_failure(rc))
				return "Check that the memcached server is running and reachable; SET pylibmc_pg.on_error = 'warning' to treat failures as misses.";
			return NULL;
	}
}

/*
 * How a server is named everywhere (messages, mc_stats, mc_client_stats):
 * "host:port", or the socket path.  palloc'd.
 */
char *
pmc_instance_name(const memcached_instance_st *instance)
{
	if (memcached_server_port(instance) == 0)
		return pstrdup(memcached_server_name(instance));
	return psprintf("%s:%u", memcached_server_name(instance),
					(unsigned) memcached_server_port(instance));
}

/*
 * For a keyless operation over several servers: the servers whose last
 * error is this failure ("a, b"), else the one libmemcached last
 * disconnected, else NULL.  libmemcached keeps each server's last error
 * until the next one: matching this failure's code keeps an older failure
 * of another kind out (for SOME_ERRORS, any server failure counts).
 */
static char *
failed_servers(memcached_st *mc, memcached_return_t rc, int *nnamed)
{
	StringInfoData names;
	const memcached_instance_st *last;
	uint32_t	count = memcached_server_count(mc);

	initStringInfo(&names);
	for (uint32_t i = 0; i < count; i++)
	{
		const memcached_instance_st *inst = memcached_server_instance_by_position(mc, i);
		memcached_return_t last_rc;
		char	   *name;

		if (inst == NULL)
			continue;
		last_rc = memcached_server_error_return(inst);
		if (last_rc != rc &&
			!(rc == MEMCACHED_SOME_ERRORS && pmc_rc_is_server_failure(last_rc)))
			continue;
		name = pmc_instance_name(inst);
		appendStringInfo(&names, "%s%s", names.len ? ", " : "", name);
		pfree(name);
		(*nnamed)++;
	}
	if (names.len > 0)
		return names.data;
	pfree(names.data);
	last = memcached_server_get_last_disconnect(mc);
	if (last == NULL)
		return NULL;
	*nnamed = 1;
	return pmc_instance_name(last);
}

/*
 * The server(s) to name in a failure's message: the ones the exchange
 * found failed, the one a key maps to; for a keyless operation, the only
 * server, or those that failed.
 */
static char *
server_for_message(PmcExchange *x, int *nnamed)
{
	memcached_st *mc = x->mc;
	const memcached_instance_st *instance = NULL;
	uint32_t	count = memcached_server_count(mc);

	*nnamed = 0;
	if (x->failed_servers != NULL)
	{
		*nnamed = x->nfailed_servers;
		return x->failed_servers;
	}
	if (x->key != NULL && x->keylen > 0)
	{
		memcached_return_t ignored;

		instance = memcached_server_by_key(mc, x->key, x->keylen, &ignored);
	}
	/* a keyless operation (multi-get, stats, flush) on a single server */
	if (instance == NULL && count == 1)
		instance = memcached_server_instance_by_position(mc, 0);
	if (instance == NULL && count > 1)
		return failed_servers(mc, x->rc, nnamed);
	if (instance == NULL)
		instance = memcached_server_get_last_disconnect(mc);
	if (instance == NULL)
		return NULL;
	*nnamed = 1;
	return pmc_instance_name(instance);
}

/*
 * Report a failed exchange, as pgfdw_report_error does: server and network
 * failures follow pylibmc_pg.on_error (an ERROR, a WARNING, or nothing);
 * anything else is always an ERROR.  Connections that may hold a half-read
 * reply are closed first.
 */
void
pmc_report_failure(PmcExchange *x)
{
	memcached_return_t rc = x->rc;
	int			elevel = ERROR;
	char	   *server;
	char	   *key = NULL;
	int			nnamed;
	int			saved_errno = memcached_last_error_errno(x->mc);
	const char *reason;
	const char *hint;

	rc = pmc_client_auth_rc(rc);
	reason = x->abort_caught
		? "the server's reply did not fit the request (libmemcached gave up on it)"
		: memcached_strerror(x->mc, rc);
	hint = rc_hint(rc);

	/* connections that may hold half a reply were closed by pmc_exchange() */
	if (pmc_rc_is_server_failure(rc))
	{
		remember_failed_server(x->mc, x->key, x->keylen);
		if (pmc_on_error == PMC_ON_ERROR_IGNORE)
			return;
		if (pmc_on_error == PMC_ON_ERROR_WARNING)
			elevel = WARNING;
	}

	server = server_for_message(x, &nnamed);
	if (x->key)
		key = pmc_printable_key(x->key, x->keylen);

	if (key && server)
		ereport(elevel,
				(errcode(rc_sqlstate(rc)),
				 errmsg("could not %s key \"%s\" on memcached server %s", x->verb, key, server),
				 (rc == MEMCACHED_ERRNO && saved_errno != 0)
				 ? errdetail("libmemcached: %s: %s.", reason, strerror(saved_errno))
				 : errdetail("libmemcached: %s.", reason),
				 hint ? errhint("%s", hint) : 0));
	else if (key)
		ereport(elevel,
				(errcode(rc_sqlstate(rc)),
				 errmsg("could not %s key \"%s\" on memcached", x->verb, key),
				 errdetail("libmemcached: %s.", reason),
				 hint ? errhint("%s", hint) : 0));
	else if (server && nnamed > 1)
		ereport(elevel,
				(errcode(rc_sqlstate(rc)),
				 errmsg("could not %s on memcached servers %s", x->verb, server),
				 errdetail("libmemcached: %s.", reason),
				 hint ? errhint("%s", hint) : 0));
	else if (server)
		ereport(elevel,
				(errcode(rc_sqlstate(rc)),
				 errmsg("could not %s on memcached server %s", x->verb, server),
				 (rc == MEMCACHED_ERRNO && saved_errno != 0)
				 ? errdetail("libmemcached: %s: %s.", reason, strerror(saved_errno))
				 : errdetail("libmemcached: %s.", reason),
				 hint ? errhint("%s", hint) : 0));
	else
		ereport(elevel,
				(errcode(rc_sqlstate(rc)),
				 errmsg("could not %s on memcached", x->verb),
				 errdetail("libmemcached: %s.", reason),
				 hint ? errhint("%s", hint) : 0));
	if (key)
		pfree(key);
}
