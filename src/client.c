/*-------------------------------------------------------------------------
 *
 * client.c
 *	  The backend's memcached client: building it from the settings,
 *	  probing for SASL, and keeping its connections in a known state.
 *
 * One memcached_st per backend, created at the first call (no I/O happens
 * before that; connections are opened lazily by libmemcached), kept for
 * the backend's life and freed at exit.  A changed setting only bumps the
 * settings generation (guc.c); the next call sees that the client was
 * built at another one, compares the settings it was built from with the
 * current ones and rebuilds only if they differ.  Every other client of
 * this backend (the commit-time batch's) is built by the same
 * pmc_new_client().
 *
 * The connection-state rule: a request whose reply is not read to the end
 * must never leave that reply on the socket for the next call to misread.
 * pmc_client_guarded() marks the connections in flight around every
 * request; if an ERROR or a cancel interrupts one, the abort callback (or
 * the next call) closes the connections, and libmemcached reconnects on
 * demand.  Reporting a failed request is the exchange's (exchange.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <errno.h>

#include "access/parallel.h"
#include "access/xact.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "client.h"
#include "guard.h"
#include "settings.h"

/* the defaults we apply before pylibmc_pg.behaviors (README: "Timeouts") */
#define PMC_DEFAULT_CONNECT_TIMEOUT_MS	1000
#define PMC_DEFAULT_POLL_TIMEOUT_MS		1000
#define PMC_DEFAULT_RETRY_TIMEOUT_S		2

/*
 * Everything this backend's client is: one struct, reset in one place
 * (reset_client_state), as postgres_fdw's ConnCacheEntry.
 */
typedef enum PmcProbeState
{
	PMC_PROBE_PENDING = 0,		/* not asked yet */
	PMC_PROBE_DONE,				/* answered: no SASL wanted */
	PMC_PROBE_UNREACHABLE		/* could not ask: again only for its keys */
} PmcProbeState;

typedef struct PmcClientState
{
	memcached_st *mc;			/* NULL until the first call */
	uint64		generation;		/* pmc_settings_generation it was checked
								 * against; 0 (never one): compare, maybe
								 * rebuild */
	bool		broken;			/* libmemcached gave up mid-request: rebuild */

	/*
	 * The result buffer single-key reads fetch into: libmemcached grows it
	 * and keeps it, so a read allocates nothing.
	 */
	memcached_result_st result_storage;
	memcached_result_st *result;

	/*
	 * A second kept buffer, for the reads after the value (the END marker,
	 * or a reply we did not ask for): given no buffer, libmemcached would
	 * malloc and free one per call.
	 */
	memcached_result_st spare_storage;
	memcached_result_st *spare;

	/*
	 * CAS tokens (the "cas" behavior, on unless pylibmc_pg.behaviors turns
	 * it off): libmemcached's SUPPORT_CAS stays off, so that plain ASCII
	 * gets are "get" and parse no token; pmc_client_set_cas() turns it on
	 * around the reads that return one (mc_gets).
	 */
	bool		cas_wanted;

	/* a value memcached_get() malloc'd, until it is decoded (reads.c) */
	char	   *taken_value;

	/* a request is in flight: its replies may be on the sockets */
	bool		io_pending;

	/*
	 * A binary-protocol client without credentials may be talking to a
	 * server that requires SASL.  libmemcached then reads a get as a silent
	 * miss and aborts on an incr.  So each server is asked once (a delete
	 * of a harmless key, answered with a clear authentication failure if
	 * it wants SASL) before the first request that goes to it.  A server
	 * that could not be asked is asked again only by calls for its keys,
	 * so a dead server does not tax calls to live ones.
	 */
	bool		probe_needed;
	PmcProbeState *probe;		/* per server index, in TopMemoryContext */
	uint32_t	nprobe;

	/*
	 * After a SASL failure libmemcached disables the server for
	 * retry_timeout and reports "server disabled" meanwhile: keep calling
	 * it what it is until a request succeeds or the settings change.
	 */
	bool		auth_failed;

	char	   *signature;		/* settings it was built from */
} PmcClientState;

static PmcClientState state;
static bool callbacks_registered = false;

/* the layers above: told when a client is built, and at pmc_disconnect_all() */
static void (*on_build) (memcached_st *mc) = NULL;
static void (*on_disconnect_all) (void) = NULL;

/* pmc_settings_signature()'s, for one settings generation, in TopMemoryContext */
static char *signature_cache = NULL;
static uint64 signature_generation = 0;

static void
reset_connections(void)
{
	pmc_quit_guarded(state.mc);
	state.io_pending = false;
}

void
pmc_reset_connections(void)
{
	reset_connections();
}

/*
 * After an ERROR: CAS parsing back off (an ERROR inside an mc_gets, see
 * cas_wanted), and a value an mc_get was decoding freed.
 */
static void
abort_cleanup(void)
{
	if (state.mc != NULL)
		memcached_behavior_set(state.mc, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 0);
	pmc_client_release_value();
}

static void
client_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		pmc_guard_reset();
		abort_cleanup();
		if (state.io_pending)
			reset_connections();
	}
}

static void
client_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		pmc_guard_reset();
		abort_cleanup();
		if (state.io_pending)
			reset_connections();
	}
}

/*
 * Free the client and everything that belongs to it, and forget what it
 * was built from: the one place the state is reset.
 */
static void
reset_client_state(void)
{
	if (state.result != NULL)
		memcached_result_free(state.result);
	if (state.spare != NULL)
		memcached_result_free(state.spare);
	if (state.mc != NULL)
		memcached_free(state.mc);
	if (state.probe != NULL)
		pfree(state.probe);
	if (state.signature != NULL)
		pfree(state.signature);
	pmc_client_release_value();
	memset(&state, 0, sizeof(state));
}

static void
client_exit_callback(int code, Datum arg)
{
	reset_client_state();
}

void
pmc_client_on_build(void (*fn) (memcached_st *mc))
{
	on_build = fn;
}

void
pmc_client_on_disconnect_all(void (*fn) (void))
{
	on_disconnect_all = fn;
}

void
pmc_mark_client_broken(void)
{
	state.broken = true;
	state.generation = 0;
}

/* An rc to report: a disabled server after a SASL failure is that failure */
memcached_return_t
pmc_client_auth_rc(memcached_return_t rc)
{
	if (rc == MEMCACHED_AUTH_FAILURE || rc == MEMCACHED_AUTH_PROBLEM)
		state.auth_failed = true;
	else if (state.auth_failed && (rc == MEMCACHED_SERVER_TEMPORARILY_DISABLED ||
								   rc == MEMCACHED_SERVER_MARKED_DEAD ||
								   rc == MEMCACHED_SOME_ERRORS))
		rc = MEMCACHED_AUTH_FAILURE;
	return rc;
}

/*
 * Everything a client is built from, as one string, compared when a
 * setting was assigned.  It holds the password (read from the password
 * file if one is set, so a changed file is seen at the next rebuild): it
 * stays in backend memory (as the GUC itself does) and is never printed.
 */
static char *
settings_signature(void)
{
	StringInfoData buf;
	char	   *password = (pmc_username && pmc_username[0]) ? pmc_sasl_password() : NULL;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s\n%d\n%s\n%d%s\n%s\n%s",
					 GetConfigOption("pylibmc_pg.servers", false, false),
					 pmc_binary,
					 pmc_username ? pmc_username : "",
					 pmc_sasl_has_secret(),
					 password ? password : "",
					 GetConfigOption("pylibmc_pg.behaviors", false, false),
					 pmc_namespace ? pmc_namespace : "");
	pmc_forget_password(password);
	return buf.data;
}

/*
 * Compute the signature of the settings in force, and keep it; ERROR first
 * if a stored setting was refused, or credentials would go to servers a
 * role chose.
 */
static void
refresh_signature(void)
{
	uint64		generation = pmc_settings_generation;
	char	   *signature;
	char	   *kept;

	pmc_check_settings_usable();
	pmc_check_credentials_destination();
	signature = settings_signature();
	kept = MemoryContextStrdup(TopMemoryContext, signature);
	pmc_forget_password(signature);

	/* only now: an ERROR above leaves the old one in place */
	if (signature_cache != NULL)
		pmc_forget_password(signature_cache);
	signature_cache = kept;
	signature_generation = generation;
}

const char *
pmc_settings_signature(void)
{
	if (signature_cache == NULL || signature_generation != pmc_settings_generation)
		refresh_signature();
	return signature_cache;
}

/* Settings that are inconsistent together: checked before any allocation */
static void
check_settings_combination(void)
{
	bool		has_user = pmc_username && pmc_username[0];
	bool		has_password = pmc_password && pmc_password[0];

	if (pmc_password && pmc_password[0] && pmc_password_file && pmc_password_file[0])
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pylibmc_pg.password and pylibmc_pg.password_file are both set"),
				 errhint("RESET pylibmc_pg.password to use the password file.")));

	if (pmc_server_list == NULL || pmc_server_list->nservers == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no memcached servers are configured"),
				 errhint("Set pylibmc_pg.servers, for example to '127.0.0.1:11211'.")));
	/*
	 * A server-wide password file is a secret for whoever names a user
	 * name: without one there is no SASL (a database that does not use it
	 * works as if no file were set).  A password set without a user name
	 * is a mistake of the session's settings.
	 */
	if (has_user && !pmc_sasl_has_secret())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("SASL authentication requires both pylibmc_pg.username and pylibmc_pg.password"),
				 errhint("Set pylibmc_pg.password_file (in postgresql.conf) or pylibmc_pg.password, or RESET pylibmc_pg.username.")));
	if (!has_user && has_password)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("SASL authentication requires both pylibmc_pg.username and pylibmc_pg.password"),
				 errhint("Set pylibmc_pg.username, or RESET pylibmc_pg.password.")));
	if (has_user && !pmc_binary)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("SASL authentication requires the memcached binary protocol"),
				 errhint("SET pylibmc_pg.binary_protocol = on.")));
	if (has_user && !LIBMEMCACHED_WITH_SASL_SUPPORT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("libmemcached was built without SASL support")));
	if (pmc_server_list->transport == PMC_TRANSPORT_UDP && pmc_binary)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the memcached binary protocol cannot be used over UDP"),
				 errhint("SET pylibmc_pg.binary_protocol = off, or use TCP servers.")));
}

/*
 * Configure a fresh memcached_st.  Returns NULL on success, or a message
 * (in the caller's memory context) when libmemcached refused something;
 * the caller frees mc then.
 */
static char *
configure_client(memcached_st *mc, const char *password, bool quiet)
{
	memcached_return_t rc;
	const PmcServerList *servers = pmc_server_list;

	/* every wait asks the guard how long it may last (exchange.c) */
	memcached_set_wait_callback(mc, pmc_guard_wait, NULL);

	/* protocol first, as pylibmc: some behaviors depend on it */
	if (pmc_binary)
		memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
	if (servers->transport == PMC_TRANSPORT_UDP)
		memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_USE_UDP, 1);

	/*
	 * Our defaults differ from pylibmc's where safety asks for it: bounded
	 * waits, CAS tokens available to mc_gets, no Nagle delay.
	 */
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, PMC_DEFAULT_CONNECT_TIMEOUT_MS);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, PMC_DEFAULT_POLL_TIMEOUT_MS);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, PMC_DEFAULT_RETRY_TIMEOUT_S);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);
	if (servers->transport == PMC_TRANSPORT_TCP)
		memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);

	if (pmc_behavior_list != NULL)
	{
		const PmcBehaviorSetting *refused;

		rc = pmc_apply_behaviors(mc, pmc_behavior_list, &refused);
		if (rc != MEMCACHED_SUCCESS)
			return psprintf("libmemcached refused behavior \"%s\" = %lld with these settings: %s",
							pmc_behavior_name(refused->id), (long long) refused->value,
							memcached_strerror(mc, rc));
	}

	for (int i = 0; i < servers->nservers; i++)
	{
		const PmcServer *s = &servers->servers[i];

		if (servers->transport == PMC_TRANSPORT_UNIX)
			rc = memcached_server_add_unix_socket_with_weight(mc, s->host, s->weight);
		else
			rc = memcached_server_add_with_weight(mc, s->host, (in_port_t) s->port, s->weight);
		if (rc != MEMCACHED_SUCCESS)
			return psprintf("libmemcached refused server \"%s\": %s",
							s->host, memcached_strerror(mc, rc));
	}

	if (pmc_namespace && pmc_namespace[0])
	{
		rc = memcached_callback_set(mc, MEMCACHED_CALLBACK_NAMESPACE, pmc_namespace);
		if (rc != MEMCACHED_SUCCESS)
			return psprintf("libmemcached refused namespace \"%s\": %s",
							pmc_namespace, memcached_strerror(mc, rc));
	}

	if (pmc_username && pmc_username[0])
	{
		/* libmemcached keeps its own copy */
		rc = memcached_set_sasl_auth_data(mc, pmc_username, password ? password : "");
		if (rc != MEMCACHED_SUCCESS)
			return psprintf("libmemcached could not set up SASL: %s",
							memcached_strerror(mc, rc));
	}

	if (quiet &&
		(memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NOREPLY, 1) != MEMCACHED_SUCCESS ||
		 memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, 1) != MEMCACHED_SUCCESS))
		return pstrdup("libmemcached refused NOREPLY or BUFFER_REQUESTS");
	return NULL;
}

/*
 * A new memcached_st from the settings in force, once the settings are
 * known usable and the credentials' destination allowed: the one place a
 * client is built.
 */
static memcached_st *
new_client(bool quiet)
{
	memcached_st *mc;
	char	   *problem;
	char	   *password;

	check_settings_combination();

	/* read before anything is malloc'd: reading the password file may ERROR */
	password = (pmc_username && pmc_username[0]) ? pmc_sasl_password() : NULL;
	mc = memcached_create(NULL);
	if (mc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Could not create a memcached client.")));
	problem = configure_client(mc, password, quiet);
	if (password)
		pmc_forget_password(password);
	if (problem != NULL)
	{
		memcached_free(mc);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not configure the memcached client"),
				 errdetail("%s.", problem),
				 errhint("Check pylibmc_pg.servers, pylibmc_pg.behaviors and pylibmc_pg.binary_protocol.")));
	}
	return mc;
}

memcached_st *
pmc_new_client(bool quiet)
{
	/* a refused stored setting, credentials for servers a role chose */
	pmc_check_settings_usable();
	pmc_check_credentials_destination();
	return new_client(quiet);
}

static void
build_client(void)
{
	memcached_st *mc;
	uint64		generation = pmc_settings_generation;

	/*
	 * A refused stored setting, credentials for servers a role chose: ERROR.
	 * The password file is read again at every build: a changed one is
	 * seen now.
	 */
	refresh_signature();

	/* same settings as the client we have: keep it and its connections */
	if (state.mc != NULL && !state.broken && state.signature != NULL &&
		strcmp(signature_cache, state.signature) == 0)
	{
		state.generation = generation;
		return;
	}

	mc = new_client(false);
	reset_client_state();
	state.mc = mc;

	/*
	 * Our own storage, not libmemcached's: a result it allocated itself is
	 * freed by memcached_fetch_result() at the end of a fetch.
	 */
	state.result = memcached_result_create(mc, &state.result_storage);
	state.spare = memcached_result_create(mc, &state.spare_storage);
	if (state.result == NULL || state.spare == NULL)
	{
		reset_client_state();
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	state.cas_wanted = memcached_behavior_get(mc, MEMCACHED_BEHAVIOR_SUPPORT_CAS) != 0;
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 0);
	state.signature = MemoryContextStrdup(TopMemoryContext, signature_cache);
	state.nprobe = memcached_server_count(mc);
	state.probe = MemoryContextAllocZero(TopMemoryContext,
										 Max(state.nprobe, 1) * sizeof(PmcProbeState));
	state.probe_needed = pmc_binary && !(pmc_username && pmc_username[0]);
	state.generation = generation;
	if (on_build)
		on_build(mc);
}

typedef struct ProbeArgs
{
	const char *key;
	size_t		keylen;
} ProbeArgs;

static memcached_return_t
send_probe(memcached_st *mc, void *arg)
{
	ProbeArgs  *p = (ProbeArgs *) arg;

	return memcached_delete(mc, p->key, p->keylen, 0);
}

/*
 * Ask server 'index' whether it wants SASL (see probe_needed): a delete of
 * a key that maps to it, a request neither counted nor reported.
 */
static void
probe_server(memcached_st *mc, uint32_t index)
{
	uint32_t	nservers = state.nprobe;

	for (int i = 0; i < 100000; i++)
	{
		char		key[64];
		ProbeArgs	p;
		memcached_return_t rc;
		bool		aborted;

		p.keylen = snprintf(key, sizeof(key), "pylibmc_pg:sasl-probe:%d", i);
		p.key = key;
		if (nservers > 1 && memcached_generate_hash(mc, key, p.keylen) != index)
			continue;
		rc = pmc_client_request(mc, send_probe, &p, false, &aborted);
		pmc_client_request_done(rc, pmc_rc_failed(rc));
		/* handle signals that arrived meanwhile: a cancel ends the call here */
		CHECK_FOR_INTERRUPTS();
		if (rc == MEMCACHED_AUTH_FAILURE || rc == MEMCACHED_AUTH_PROBLEM ||
			rc == MEMCACHED_AUTH_CONTINUE)
		{
			char	   *name = pmc_instance_name(memcached_server_instance_by_position(mc, index));

			reset_connections();
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("memcached server %s requires SASL authentication", name),
					 errhint("Set pylibmc_pg.username and pylibmc_pg.password.")));
		}
		state.probe[index] = (rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTFOUND)
			? PMC_PROBE_DONE : PMC_PROBE_UNREACHABLE;
		return;
	}
	state.probe[index] = PMC_PROBE_UNREACHABLE;
}

/* Probe the servers never asked; with a key, also its server if unreachable */
static void
probe_sasl_requirement(memcached_st *mc, const char *key, size_t keylen)
{
	bool		all_done = true;

	for (uint32_t i = 0; i < state.nprobe; i++)
	{
		if (state.probe[i] == PMC_PROBE_PENDING)
			probe_server(mc, i);
		if (state.probe[i] != PMC_PROBE_DONE)
			all_done = false;
	}
	if (key != NULL && !all_done)
	{
		uint32_t	index = pmc_server_index(mc, key, keylen);

		if (index < state.nprobe && state.probe[index] == PMC_PROBE_UNREACHABLE)
			probe_server(mc, index);
		all_done = true;
		for (uint32_t i = 0; i < state.nprobe; i++)
			if (state.probe[i] != PMC_PROBE_DONE)
				all_done = false;
	}
	if (all_done)
		state.probe_needed = false;
}

/*
 * Memcached calls talk over this backend's own connections, with this
 * backend's settings: a parallel worker has neither (the library may not
 * even be loaded in the leader, so its settings never reached the worker).
 */
static void
forbid_parallel_worker(void)
{
	if (IsParallelWorker())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("memcached functions cannot run in a parallel worker"),
				 errdetail("A parallel worker has neither the leader's memcached connections nor its settings."),
				 errhint("Mark functions that call pylibmc_pg functions PARALLEL RESTRICTED.")));
}

/*
 * The client, ready for a request for 'key' (NULL: a keyless request).
 * This is the hot path: when nothing changed it is a few tests.
 */
memcached_st *
pmc_client_for_key(const char *key, size_t keylen)
{
	if (unlikely(state.mc == NULL || state.generation != pmc_settings_generation))
	{
		forbid_parallel_worker();
		if (!callbacks_registered)
		{
			RegisterXactCallback(client_xact_callback, NULL);
			RegisterSubXactCallback(client_subxact_callback, NULL);
			on_proc_exit(client_exit_callback, (Datum) 0);
			callbacks_registered = true;
		}
		build_client();
	}
	if (unlikely(state.io_pending))
		reset_connections();
	if (unlikely(state.probe_needed))
		probe_sasl_requirement(state.mc, key, keylen);
	return state.mc;
}

memcached_st *
pmc_client(void)
{
	return pmc_client_for_key(NULL, 0);
}

memcached_result_st *
pmc_client_result(void)
{
	return state.result;
}

/* The second kept result buffer: see spare in PmcClientState */
memcached_result_st *
pmc_client_spare_result(void)
{
	return state.spare;
}

/* Keep a value memcached_get() returned until it is decoded (or freed) */
void
pmc_client_keep_value(char *value)
{
	pmc_client_release_value();
	state.taken_value = value;
}

void
pmc_client_release_value(void)
{
	if (state.taken_value != NULL)
	{
		free(state.taken_value);
		state.taken_value = NULL;
	}
}

/* May reads return CAS tokens (the "cas" behavior)? */
bool
pmc_client_cas_wanted(void)
{
	return state.cas_wanted;
}

/*
 * CAS parsing on for the read that returns a token, off after it, inside
 * that read's exchange function (a libmemcached abort there rebuilds the
 * client, which starts with it off).  Binary replies always carry the
 * token: the behavior changes only the ASCII command ("gets" or "get").
 */
void
pmc_client_set_cas(memcached_st *mc, bool on)
{
	if (mc == state.mc)
		memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SUPPORT_CAS, on ? 1 : 0);
}

void
pmc_disconnect_all(void)
{
	reset_connections();
	if (on_disconnect_all)
		on_disconnect_all();
	state.auth_failed = false;
	/* a server may have been replaced: ask about SASL again */
	if (state.probe != NULL && pmc_binary && !(pmc_username && pmc_username[0]))
	{
		memset(state.probe, 0, Max(state.nprobe, 1) * sizeof(PmcProbeState));
		state.probe_needed = true;
	}
}

bool
pmc_client_is_udp(void)
{
	return pmc_server_list != NULL && pmc_server_list->transport == PMC_TRANSPORT_UDP;
}

/* Over UDP libmemcached only sends (no replies are read): say so clearly */
void
pmc_forbid_udp(const char *what)
{
	if (unlikely(pmc_server_list != NULL &&
				 pmc_server_list->transport == PMC_TRANSPORT_UDP))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s is not supported over UDP", what),
				 errdetail("Over UDP, memcached requests are sent without reading a reply; only set, add, replace, append, prepend, delete and flush_all work."),
				 errhint("Use TCP or UNIX-socket servers in pylibmc_pg.servers.")));
}

/* ---------- requests ---------- */

static inline bool
client_guarded(void (*fn) (void *arg), void *arg)
{
	bool		done;

	state.io_pending = true;
	done = pmc_guarded_call(fn, arg);
	state.io_pending = false;
	if (unlikely(!done))
	{
		state.broken = true;
		state.generation = 0;
	}
	return done;
}

bool
pmc_client_guarded(void (*fn) (void *arg), void *arg)
{
	return client_guarded(fn, arg);
}

/*
 * Did the request fail because its connection was already closed by the
 * server (a memcached restarted while we were idle)?  libmemcached closes
 * it on the way and reconnects on the next request, so one more try of an
 * idempotent request makes the first call after a restart succeed.
 */
bool
pmc_client_connection_was_dead(memcached_st *mc, memcached_return_t rc)
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

/* pmc_client_request()'s request, as pmc_client_guarded() runs it */
typedef struct RequestCall
{
	memcached_st *mc;
	PmcRequestFn fn;
	void	   *arg;
	bool		retry_safe;
	memcached_return_t rc;
} RequestCall;

static void
run_request(void *arg)
{
	RequestCall *c = (RequestCall *) arg;

	pmc_guard_bound_request();
	c->rc = c->fn(c->mc, c->arg);
	if (c->retry_safe && pmc_client_connection_was_dead(c->mc, c->rc))
	{
		pmc_guard_bound_request();	/* the retry has a deadline of its own */
		c->rc = c->fn(c->mc, c->arg);
	}
}

memcached_return_t
pmc_client_request(memcached_st *mc, PmcRequestFn fn, void *arg, bool retry_safe,
				   bool *aborted)
{
	RequestCall c = {mc, fn, arg, retry_safe, MEMCACHED_SUCCESS};

	*aborted = !client_guarded(run_request, &c);
	/* libmemcached's state may be anything: the client is rebuilt */
	return *aborted ? MEMCACHED_PROTOCOL_ERROR : c.rc;
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

void
pmc_client_request_done(memcached_return_t rc, bool failed)
{
	/* a request succeeded: earlier authentication failures are history */
	if (!failed)
		state.auth_failed = false;
	else if (rc_may_desync(rc))
		reset_connections();
}

/* ---------- servers ---------- */

uint32_t
pmc_server_index(memcached_st *mc, const char *key, size_t keylen)
{
	if (memcached_server_count(mc) <= 1)
		return 0;
	return memcached_generate_hash(mc, key, keylen);
}

char *
pmc_instance_name(const memcached_instance_st *instance)
{
	if (memcached_server_port(instance) == 0)
		return pstrdup(memcached_server_name(instance));
	return psprintf("%s:%u", memcached_server_name(instance),
					(unsigned) memcached_server_port(instance));
}
