/*-------------------------------------------------------------------------
 *
 * guard.h
 *	  The guard around libmemcached's calls: signals, the locale, and
 *	  libmemcached's abort().  Knows no client (src/README: layers).
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

/* After an ERROR inside the guard: restore the signal mask and the locale */
extern void pmc_guard_reset(void);

/* memcached_quit(), which waits too, with the signals held */
extern void pmc_quit_guarded(memcached_st *mc);

#endif							/* PYLIBMC_PG_GUARD_H */
