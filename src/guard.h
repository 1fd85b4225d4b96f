/*-------------------------------------------------------------------------
 *
 * guard.h
 *	  The guard around libmemcached's calls: waits bounded and given up on
 *	  a cancel, the locale, and libmemcached's abort().  Knows no client
 *	  (src/README: layers).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYLIBMC_PG_GUARD_H
#define PYLIBMC_PG_GUARD_H

#include <libmemcached/memcached.h>

/*
 * Run fn(arg) under the guard.  Returns false when libmemcached abort()ed
 * inside it: the state of the clients fn used may then be anything, and
 * the caller says so to whoever owns them.
 */
extern bool pmc_guarded_call(void (*fn) (void *arg), void *arg);

/* After an ERROR inside the guard: restore the locale */
extern void pmc_guard_reset(void);

/* memcached_quit(), whose waits are bounded as any other */
extern void pmc_quit_guarded(memcached_st *mc);

/*
 * Waits (guard.c): every client registers pmc_guard_wait as its wait
 * callback; a request whose servers are each held to one deadline calls
 * pmc_guard_bound_request() first; a request of several calls asks
 * pmc_guard_interrupted() between them.
 */
extern int32_t pmc_guard_wait(const memcached_st *mc, const memcached_instance_st *server,
							  bool connecting, int32_t timeout, void *context);
extern void pmc_guard_bound_request(void);
extern bool pmc_guard_interrupted(void);

#endif							/* PYLIBMC_PG_GUARD_H */
