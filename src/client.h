/*-------------------------------------------------------------------------
 *
 * client.h
 *	  The backend's memcached client: its state, how it is built from the
 *	  settings, the SASL probe, its connections (src/README: layers).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYLIBMC_PG_CLIENT_H
#define PYLIBMC_PG_CLIENT_H

#include <libmemcached/memcached.h>

/* ---------- the client and its state ---------- */

extern memcached_st *pmc_client(void);
extern memcached_st *pmc_client_for_key(const char *key, size_t keylen);
extern memcached_result_st *pmc_client_result(void);
extern memcached_result_st *pmc_client_spare_result(void);
extern bool pmc_client_cas_wanted(void);
extern void pmc_client_keep_value(char *value);
extern void pmc_client_release_value(void);
extern void pmc_client_set_cas(memcached_st *mc, bool on);
extern void pmc_mark_client_broken(void);
extern void pmc_reset_connections(void);
extern void pmc_disconnect_all(void);
extern bool pmc_client_is_udp(void);
extern void pmc_forbid_udp(const char *what);

/*
 * Callbacks of the layers above (registered once, from _PG_init): a client
 * was built (its servers are new), and pmc_disconnect_all() was called.
 */
extern void pmc_client_on_build(void (*fn) (memcached_st *mc));
extern void pmc_client_on_disconnect_all(void (*fn) (void));

/* ---------- building ---------- */

/*
 * Everything a client is built from, as one string, for the settings in
 * force (the password too, read from the password file when one is set:
 * it stays in backend memory and is never printed).  Computed once per
 * settings generation; valid until the next call.
 */
extern const char *pmc_settings_signature(void);

/*
 * A new memcached_st configured from the settings in force, as the
 * client is: ERROR when the settings are refused or inconsistent,
 * libmemcached refuses them, or memory runs out.  quiet: also NOREPLY and
 * BUFFER_REQUESTS (the commit-time batch's quiet client).  The caller
 * frees it with memcached_free().
 */
extern memcached_st *pmc_new_client(bool quiet);

/* ---------- requests ---------- */

typedef memcached_return_t (*PmcRequestFn) (memcached_st *mc, void *arg);

/*
 * Run fn(arg) under the guard as a request on this backend's connections:
 * they are marked in flight meanwhile, so that an ERROR or a cancel that
 * cuts the request off has them closed (at abort or at the next call),
 * and a libmemcached abort() marks the client broken (rebuilt at the next
 * call).  Returns false when libmemcached aborted.
 */
extern bool pmc_client_guarded(void (*fn) (void *arg), void *arg);

/*
 * One request: fn(mc, arg) through pmc_client_guarded(), once more if it
 * is retry_safe (idempotent) and found its connection closed by the
 * server.  *aborted: libmemcached aborted (the result is then
 * MEMCACHED_PROTOCOL_ERROR).
 */
extern memcached_return_t pmc_client_request(memcached_st *mc, PmcRequestFn fn, void *arg,
											 bool retry_safe, bool *aborted);

/*
 * Did a request fail because its connection had been closed by the server
 * (a memcached restarted while we were idle)?  libmemcached has closed it
 * and reconnects at the next request, so an idempotent request may be
 * sent once more.  pmc_client_request() does so when it is retry_safe.
 */
extern bool pmc_client_connection_was_dead(memcached_st *mc, memcached_return_t rc);

/*
 * After a request, whether it failed: a success forgets earlier SASL
 * failures; a failure that may leave a reply on a socket closes the
 * connections.
 */
extern void pmc_client_request_done(memcached_return_t rc, bool failed);

/* Did the request fail (neither done nor a plain "not found/not stored")? */
static inline bool
pmc_rc_failed(memcached_return_t rc)
{
	switch (rc)
	{
		case MEMCACHED_SUCCESS:
		case MEMCACHED_STORED:
		case MEMCACHED_DELETED:
		case MEMCACHED_NOTFOUND:
		case MEMCACHED_NOTSTORED:
		case MEMCACHED_DATA_EXISTS:
		case MEMCACHED_END:
			return false;
		default:
			return true;
	}
}

/* An rc to report: a disabled server after a SASL failure is that failure */
extern memcached_return_t pmc_client_auth_rc(memcached_return_t rc);

/* ---------- servers ---------- */

/* The index of the server a key goes to (libmemcached's distribution) */
extern uint32_t pmc_server_index(memcached_st *mc, const char *key, size_t keylen);

/*
 * How a server is named everywhere (messages, mc_stats, mc_client_stats):
 * "host:port", or the socket path.  palloc'd.
 */
extern char *pmc_instance_name(const memcached_instance_st *instance);

#endif							/* PYLIBMC_PG_CLIENT_H */
