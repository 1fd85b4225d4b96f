/*-------------------------------------------------------------------------
 *
 * exchange.h
 *	  The exchange: one request to memcached, guarded, counted and, when
 *	  it fails, reported (src/README: layers).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYLIBMC_PG_EXCHANGE_H
#define PYLIBMC_PG_EXCHANGE_H

#include <libmemcached/memcached.h>

#include "client.h"
#include "stats.h"

#define PMC_OUTCOME_UNSET	((PmcOutcome) -1)

/*
 * One request to memcached: what it is (for counters and messages) and,
 * after pmc_exchange(), how it ended.
 */
typedef struct PmcExchange
{
	memcached_st *mc;
	PmcOp		op;				/* counted under it; PMC_NUM_OPS: not counted */
	const char *verb;			/* "get", "set", "get several keys", ... */
	const char *key;			/* NULL for a keyless request */
	size_t		keylen;
	size_t		sent;			/* bytes, for the counters */
	size_t		received;
	bool		quiet;			/* the caller reports failures itself */
	bool		retry_safe;		/* idempotent: one more try on a closed connection */
	memcached_return_t caller_handles;	/* this rc is reported by the caller */

	/* set by the exchange function or by pmc_exchange() */
	PmcOutcome	outcome;		/* fn may set HIT or MISS */
	memcached_return_t rc;
	bool		abort_caught;	/* libmemcached abort()ed: rebuilt */
	char	   *failed_servers; /* names, when fn found some servers failed */
	int			nfailed_servers;
} PmcExchange;

/* what an exchange runs: the libmemcached calls of one request */
typedef PmcRequestFn PmcExchangeFn;

/* Prepare an exchange (inline: every call makes one) */
static inline void
pmc_exchange_init(PmcExchange *x, memcached_st *mc, PmcOp op, const char *verb,
				  const char *key, size_t keylen)
{
	memset(x, 0, sizeof(*x));
	x->mc = mc;
	x->op = op;
	x->verb = verb;
	x->key = key;
	x->keylen = keylen;
	x->sent = key ? keylen : 0;
}

/* Run fn(mc, arg) as one request: guarded, counted, a failure reported */
extern PmcOutcome pmc_exchange(PmcExchange *x, PmcExchangeFn fn, void *arg);

/* Report a failed exchange (pylibmc_pg.on_error decides the level) */
extern void pmc_report_failure(PmcExchange *x);

/* Is this a server or network failure (which on_error may turn into a miss)? */
extern bool pmc_rc_is_server_failure(memcached_return_t rc);

/* After a fetch that ended: the failure recorded during the request, if any */
extern memcached_return_t pmc_fetch_failure(memcached_st *mc);

/* A key as messages show it: control characters escaped, long keys cut */
extern char *pmc_printable_key(const char *key, size_t len);

/* multi-key calls: a server that failed once is not asked again */
extern void pmc_call_begin(memcached_st *mc);
extern void pmc_call_end(void);
extern bool pmc_call_server_failed(memcached_st *mc, const char *key, size_t keylen);

#endif							/* PYLIBMC_PG_EXCHANGE_H */
