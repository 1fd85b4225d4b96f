/*-------------------------------------------------------------------------
 *
 * counters.c
 *	  mc_incr and mc_decr, with and without an initial value.
 *
 * memcached counters are unsigned 64-bit and wrap past 2^64-1; SQL has
 * bigint.  A result above bigint's range, or a wrap, is an ERROR naming
 * the key, never a wrong number.  A missing key is NULL (pylibmc raises
 * NotFound); decr stops at 0, as memcached does.  A tombstone or a lease
 * marker (a pickled None, flags 1) is a missing key: NULL, or with an
 * initial value the counter starts from it (stored over the marker by cas,
 * so a write meanwhile is never overwritten).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"

#include "client.h"
#include "codec.h"
#include "compat.h"
#include "exchange.h"
#include "keys.h"
#include "operations.h"
#include "settings.h"
#include "stats.h"
#include "value.h"

PG_FUNCTION_INFO_V1(pylibmc_pg_incr);
PG_FUNCTION_INFO_V1(pylibmc_pg_decr);
PG_FUNCTION_INFO_V1(pylibmc_pg_incr_initial);
PG_FUNCTION_INFO_V1(pylibmc_pg_decr_initial);

/* libmemcached's incr/decr take a 32-bit delta */
static uint32_t
check_delta(int64 delta, bool incr)
{
	if (delta < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("delta must not be negative"),
				 errhint("Use %s() to count the other way.", incr ? "mc_decr" : "mc_incr")));
	if (delta > (int64) UINT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("delta must be at most 4294967295")));
	return (uint32_t) delta;
}

static int64
counter_result(const char *key, uint64_t value, uint32_t delta, bool incr)
{
	if (incr && value < delta)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("counter \"%s\" wrapped around past 18446744073709551615", key),
				 errdetail("memcached now holds %llu.", (unsigned long long) value)));
	if (value > (uint64_t) PG_INT64_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("counter \"%s\" is out of range for type bigint", key),
				 errdetail("memcached holds %llu.", (unsigned long long) value),
				 errhint("Read it with mc_get(key, NULL::numeric).")));
	return (int64) value;
}

static void
not_a_number(const char *key)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("cached value of key \"%s\" is not a counter", key),
			 errdetail("incr and decr need a value of at most 20 decimal digits, with no sign."),
			 errhint("Store counters as integers, for example mc_set(key, 0).")));
}

typedef struct DeltaArgs
{
	bool		incr;
	const char *key;
	size_t		keylen;
	uint32_t	delta;
	uint64_t   *value;
} DeltaArgs;

static memcached_return_t
send_delta_request(memcached_st *mc, void *arg)
{
	DeltaArgs  *a = (DeltaArgs *) arg;

	if (a->incr)
		return memcached_increment(mc, a->key, a->keylen, a->delta, a->value);
	return memcached_decrement(mc, a->key, a->keylen, a->delta, a->value);
}

typedef struct PeekArgs
{
	const char *key;
	size_t		keylen;
	bool		not_counter;
} PeekArgs;

static memcached_return_t
peek_value(memcached_st *mc, void *arg)
{
	PeekArgs   *a = (PeekArgs *) arg;
	memcached_return_t rc;
	size_t		len;
	uint32_t	flags;
	char	   *value = memcached_get(mc, a->key, a->keylen, &len, &flags, &rc);

	if (rc == MEMCACHED_SUCCESS)
	{
		a->not_counter = (len == 0 || len > 20 || !pmc_all_digits(value, len));
	}
	if (value)
		free(value);
	return rc;
}

/*
 * The binary protocol's "non-numeric value" status reaches us from
 * libmemcached 1.1.4 as a generic UNKNOWN_READ_FAILURE, with no text to
 * tell it from a real read failure.  A binary reply is length-delimited,
 * so the connection is still in step: read the value and see.
 */
static bool
stored_value_is_not_counter(memcached_st *mc, const char *key, size_t keylen)
{
	PeekArgs	a = {key, keylen, false};
	PmcExchange x;

	if (!pmc_binary)
		return false;
	pmc_exchange_init(&x, mc, PMC_NUM_OPS, "get", key, keylen);
	x.quiet = true;
	pmc_exchange(&x, peek_value, &a);
	return a.not_counter;
}

/*
 * Send incr or decr.  HIT with *value set, MISS on a missing key or one
 * that holds a tombstone or a lease marker (then *none_cas, when given,
 * is the marker's cas token), ERROR on a failure that on_error let
 * through.
 */
static PmcOutcome
send_delta(memcached_st *mc, bool incr, const char *key, size_t keylen,
		   uint32_t delta, uint64_t *value, uint64_t *none_cas)
{
	DeltaArgs	a = {incr, key, keylen, delta, value};
	PmcExchange x;
	PmcOutcome	outcome;

	pmc_exchange_init(&x, mc, incr ? PMC_OP_INCR : PMC_OP_DECR,
					  incr ? "increment" : "decrement", key, keylen);
	/* ASCII: "cannot increment or decrement non-numeric value" */
	x.caller_handles = pmc_binary ? MEMCACHED_UNKNOWN_READ_FAILURE : MEMCACHED_CLIENT_ERROR;
	if (none_cas != NULL)
		*none_cas = 0;
	outcome = pmc_exchange(&x, send_delta_request, &a);
	if (outcome == PMC_ERROR && x.rc == x.caller_handles)
	{
		/* not a number: a tombstone or a lease marker is an absent key */
		if (pmc_key_holds_none(mc, NULL, key, keylen, none_cas) == PMC_HIT)
			return PMC_MISS;
		if (x.rc == MEMCACHED_CLIENT_ERROR || stored_value_is_not_counter(mc, key, keylen))
			not_a_number(key);
		pmc_report_failure(&x);
	}
	return outcome;
}

static Datum
incr_or_decr(FunctionCallInfo fcinfo, bool incr)
{
	size_t		keylen;
	char	   *key = pmc_key_from_text(PG_GETARG_TEXT_PP(0), &keylen);
	uint32_t	delta = check_delta(PG_GETARG_INT64(1), incr);
	uint64_t	value;

	pmc_forbid_udp(incr ? "mc_incr" : "mc_decr");
	if (send_delta(pmc_client_for_key(key, keylen), incr, key, keylen, delta, &value, NULL) != PMC_HIT)
		PG_RETURN_NULL();
	PG_RETURN_INT64(counter_result(key, value, incr ? delta : 0, incr));
}

Datum
pylibmc_pg_incr(PG_FUNCTION_ARGS)
{
	return incr_or_decr(fcinfo, true);
}

Datum
pylibmc_pg_decr(PG_FUNCTION_ARGS)
{
	return incr_or_decr(fcinfo, false);
}

/*
 * mc_incr(key, delta, initial, ttl): when the key is missing it is created
 * holding 'initial' (not initial + delta), which is what the result is.
 *
 * It is incr, then add on a miss, then incr again if another client's add
 * won the race (the add was not stored): no increment is ever lost, in
 * either protocol.  On a tombstone or a lease marker the add is a cas with
 * the marker's token instead: it replaces the marker unless the key
 * changed meanwhile (then the next round sees what it holds now).  A failure that on_error let through ends it with NULL.  The binary
 * protocol's own incr-with-initial is not used, because it creates the
 * item with flags 0, which pylibmc and mc_get read as bytes, not as an int.
 */
static Datum
incr_or_decr_initial(FunctionCallInfo fcinfo, bool incr)
{
	size_t		keylen;
	char	   *key = pmc_key_from_text(PG_GETARG_TEXT_PP(0), &keylen);
	uint32_t	delta = check_delta(PG_GETARG_INT64(1), incr);
	int64		initial = PG_GETARG_INT64(2);
	time_t		ttl = pmc_check_ttl(PG_GETARG_INT32(3));
	memcached_st *mc;
	uint64_t	value;

	if (initial < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("initial must not be negative"),
				 errdetail("memcached counters are unsigned.")));
	pmc_forbid_udp(incr ? "mc_incr" : "mc_decr");
	mc = pmc_client_for_key(key, keylen);

	/*
	 * Each round trip either counts, creates, or finds that another client
	 * created the key meanwhile (then the next incr finds it).  A key that
	 * keeps vanishing between add and incr (evicted, deleted by others)
	 * could loop: bound it, and say so rather than lose the increment.
	 */
	for (int attempt = 0; attempt < 100; attempt++)
	{
		PmcValue	v;
		char		digits[MAXINT8LEN + 1];
		PmcOutcome	outcome;
		uint64_t	none_cas;

		outcome = send_delta(mc, incr, key, keylen, delta, &value, &none_cas);
		if (outcome == PMC_HIT)
			PG_RETURN_INT64(counter_result(key, value, incr ? delta : 0, incr));
		if (outcome == PMC_ERROR)
			PG_RETURN_NULL();
		v.len = pmc_lltoa(initial, digits);
		v.data = digits;
		v.flags = PMC_FLAG_LONG;
		if (none_cas != 0)
			outcome = pmc_store(mc, PMC_OP_CAS, key, keylen, &v, ttl, none_cas);
		else
			outcome = pmc_store(mc, PMC_OP_ADD, key, keylen, &v, ttl, 0);
		if (outcome == PMC_HIT)
			PG_RETURN_INT64(initial);
		if (outcome == PMC_ERROR)
			PG_RETURN_NULL();
		/* PMC_MISS: another client's add won; count on its value */
		CHECK_FOR_INTERRUPTS();
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("could not %s counter \"%s\": it was created and removed again 100 times meanwhile",
					incr ? "increment" : "decrement", key)));
	PG_RETURN_NULL();
}

Datum
pylibmc_pg_incr_initial(PG_FUNCTION_ARGS)
{
	return incr_or_decr_initial(fcinfo, true);
}

Datum
pylibmc_pg_decr_initial(PG_FUNCTION_ARGS)
{
	return incr_or_decr_initial(fcinfo, false);
}
