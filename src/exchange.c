/*-------------------------------------------------------------------------
 *
 * exchange.c
 *	  The one path every libmemcached request goes through, and the one
 *	  place its failures are reported.
 *
 * pmc_exchange() runs a small function that makes the libmemcached calls
 * of one request (send and read to the end) and owns everything around
 * it, so that no call site can forget a step:
 *
 *	- the guard (guard.c: signals, the C locale, libmemcached's abort()),
 *	  through the client (client.c: the connections marked in flight, one
 *	  more try of an idempotent request on a connection the server closed,
 *	  a client that libmemcached gave up on rebuilt);
 *	- timing and this backend's counters (stats.c): every failure counts
 *	  as an error, whatever on_error then does with it;
 *	- connections that may hold half a reply closed (client.c);
 *	- failures: pmc_report_failure() turns a libmemcached result into an
 *	  ERROR, a WARNING or nothing (pylibmc_pg.on_error).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "client.h"
#include "exchange.h"
#include "settings.h"
#include "stats.h"

/* ---------- per-call failed servers ---------- */

/*
 * Servers that failed in the current multi-key call, by index: such a
 * server costs one timeout per call, not one per key.
 */
static bool *failed_in_call = NULL;
static uint32_t failed_in_call_size = 0;
static bool call_tracking = false;
static bool call_callbacks_registered = false;

/* An ERROR ended the call before pmc_call_end(): end it */
static void
call_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		call_tracking = false;
}

static void
call_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		call_tracking = false;
}

/*
 * A multi-key call starts: from now until pmc_call_end() (or an ERROR), a
 * server that fails is remembered and its further keys are not sent.
 */
void
pmc_call_begin(memcached_st *mc)
{
	uint32_t	n = memcached_server_count(mc);

	if (!call_callbacks_registered)
	{
		RegisterXactCallback(call_xact_callback, NULL);
		RegisterSubXactCallback(call_subxact_callback, NULL);
		call_callbacks_registered = true;
	}

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
static inline PmcOutcome
default_outcome(memcached_return_t rc)
{
	if (pmc_rc_failed(rc))
		return PMC_ERROR;
	if (rc == MEMCACHED_SUCCESS || rc == MEMCACHED_STORED || rc == MEMCACHED_DELETED)
		return PMC_HIT;
	return PMC_MISS;
}

/*
 * Run fn(mc, arg) as one request (pmc_client_request(): guarded, one more
 * try if retry_safe), count the outcome, report a failure.
 *
 * The outcome is x->outcome if fn set it (PMC_HIT/PMC_MISS), else what
 * the rc means.  A failure is reported here (an ERROR, a WARNING or
 * nothing, per on_error) unless its rc is x->caller_handles, which the
 * caller then reports itself.  Returns the outcome: PMC_ERROR means the
 * request failed and on_error let the call go on.  A pending cancel or
 * timeout takes effect when the exchange is over.
 */
PmcOutcome
pmc_exchange(PmcExchange *x, PmcExchangeFn fn, void *arg)
{
	memcached_return_t rc;
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	x->outcome = PMC_OUTCOME_UNSET;
	rc = pmc_client_request(x->mc, fn, arg, x->retry_safe, &x->abort_caught);
	if (x->abort_caught)
		x->outcome = PMC_OUTCOME_UNSET;
	x->rc = rc;
	if (x->outcome == PMC_OUTCOME_UNSET)
		x->outcome = default_outcome(rc);
	if (x->failed_servers != NULL && x->outcome != PMC_ERROR)
		x->outcome = PMC_ERROR;
	if (x->op < PMC_NUM_OPS)
		pmc_stats_count(x->mc, x->op, x->key, x->keylen, x->outcome,
						x->sent, x->received, start);
	pmc_client_request_done(rc, x->outcome == PMC_ERROR);

	/* handle signals that arrived meanwhile: a cancel ends the call here */
	CHECK_FOR_INTERRUPTS();

	if (x->outcome == PMC_ERROR && !x->quiet &&
		!(x->caller_handles != MEMCACHED_SUCCESS && rc == x->caller_handles))
		pmc_report_failure(x);
	return x->outcome;
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

/*
 * A key for a message: control characters escaped, long keys shortened.
 */
char *
pmc_printable_key(const char *key, size_t len)
{
	StringInfoData buf;
	size_t		shown = len;

	/* keys are UTF-8: never cut a character in two */
	if (len > 64)
		shown = pg_encoding_mbcliplen(PG_UTF8, key, (int) len, 64);

	initStringInfo(&buf);
	for (size_t i = 0; i < shown; i++)
	{
		unsigned char c = (unsigned char) key[i];

		if (c < 0x20 || c == 0x7f)
			appendStringInfo(&buf, "\\x%02x", c);
		else
			appendStringInfoChar(&buf, (char) c);
	}
	if (shown < len)
		appendStringInfoString(&buf, "...");
	return buf.data;
}

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
	StringInfoData msg;
	bool		with_errno;

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

	/*
	 * "could not VERB [key "K"] on memcached [server(s) S]": one message,
	 * built here (this extension has no message catalog to translate it).
	 * libmemcached's errno is told with a key's server, or with the one
	 * server a keyless request named.
	 */
	initStringInfo(&msg);
	appendStringInfo(&msg, "could not %s", x->verb);
	if (key)
		appendStringInfo(&msg, " key \"%s\"", key);
	if (server)
		appendStringInfo(&msg, " on memcached server%s %s",
						 (!key && nnamed > 1) ? "s" : "", server);
	else
		appendStringInfoString(&msg, " on memcached");
	with_errno = server && (key || nnamed <= 1) &&
		rc == MEMCACHED_ERRNO && saved_errno != 0;

	ereport(elevel,
			(errcode(rc_sqlstate(rc)),
			 errmsg_internal("%s", msg.data),
			 with_errno
			 ? errdetail("libmemcached: %s: %s.", reason, strerror(saved_errno))
			 : errdetail("libmemcached: %s.", reason),
			 hint ? errhint("%s", hint) : 0));
	pfree(msg.data);
	if (key)
		pfree(key);
}
