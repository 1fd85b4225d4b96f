/*-------------------------------------------------------------------------
 *
 * counters.c
 *	  mc_incr and mc_decr, with and without an initial value.
 *
 * memcached counters are unsigned 64-bit and wrap past 2^64-1; SQL has
 * bigint.  A result above bigint's range, or a wrap, is an ERROR naming
 * the key, never a wrong number.  A missing key is NULL (pylibmc raises
 * NotFound); decr stops at 0, as memcached does.
 *
 *-------------------------------------------------------------------------
 */
#include "pylibmc_pg.h"

#include "utils/builtins.h"

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

/*
 * The binary protocol's "non-numeric value" status reaches us from
 * libmemcached 1.1.4 as a generic UNKNOWN_READ_FAILURE, with no text to
 * tell it from a real read failure.  A binary reply is length-delimited,
 * so the connection is still in step: read the value and see.
 */
static bool
stored_value_is_not_counter(memcached_st *mc, const char *key, size_t keylen)
{
	memcached_return_t rc;
	size_t		len;
	uint32_t	flags;
	char	   *value;
	bool		not_counter = false;

	if (!pmc_binary)
		return false;
	pmc_io_begin();
	value = memcached_get(mc, key, keylen, &len, &flags, &rc);
	pmc_io_end();
	if (rc == MEMCACHED_SUCCESS)
	{
		not_counter = (len == 0 || len > 20);
		for (size_t i = 0; i < len && !not_counter; i++)
			if (value[i] < '0' || value[i] > '9')
				not_counter = true;
	}
	if (value)
		free(value);
	return not_counter;
}

/*
 * Send incr or decr.  Returns true with *value set, false on a missing key
 * (or a failure turned into a miss).
 */
static bool
send_delta(memcached_st *mc, bool incr, const char *key, size_t keylen,
		   uint32_t delta, uint64_t *value)
{
	memcached_return_t rc;
	instr_time	start;
	PmcOp		op = incr ? PMC_OP_INCR : PMC_OP_DECR;

	INSTR_TIME_SET_CURRENT(start);
	pmc_io_begin();
	if (incr)
		rc = memcached_increment(mc, key, keylen, delta, value);
	else
		rc = memcached_decrement(mc, key, keylen, delta, value);
	pmc_io_end();

	switch (rc)
	{
		case MEMCACHED_SUCCESS:
			pmc_stats_count(mc, op, key, keylen, PMC_HIT, keylen, 0, start);
			return true;
		case MEMCACHED_NOTFOUND:
			pmc_stats_count(mc, op, key, keylen, PMC_MISS, keylen, 0, start);
			return false;
		case MEMCACHED_CLIENT_ERROR:
			/* ASCII: "cannot increment or decrement non-numeric value" */
			pmc_stats_count(mc, op, key, keylen, PMC_ERROR, keylen, 0, start);
			not_a_number(key);
			return false;
		default:
			pmc_stats_count(mc, op, key, keylen, PMC_ERROR, keylen, 0, start);
			if (rc == MEMCACHED_UNKNOWN_READ_FAILURE && stored_value_is_not_counter(mc, key, keylen))
				not_a_number(key);
			return pmc_failure(mc, rc, incr ? "increment" : "decrement", key, keylen);
	}
}

static Datum
incr_or_decr(FunctionCallInfo fcinfo, bool incr)
{
	size_t		keylen;
	char	   *key = pmc_key_from_text(PG_GETARG_TEXT_PP(0), &keylen);
	uint32_t	delta = check_delta(PG_GETARG_INT64(1), incr);
	uint64_t	value;

	pmc_forbid_udp(incr ? "mc_incr" : "mc_decr");
	if (!send_delta(pmc_client(), incr, key, keylen, delta, &value))
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
 * won the race: no increment is ever lost, in either protocol.  The binary
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
	mc = pmc_client();

	for (int attempt = 0; attempt < 3; attempt++)
	{
		PmcValue	v;
		char		digits[MAXINT8LEN + 1];

		if (send_delta(mc, incr, key, keylen, delta, &value))
			PG_RETURN_INT64(counter_result(key, value, incr ? delta : 0, incr));
		v.len = pmc_lltoa(initial, digits);
		v.data = digits;
		v.flags = PMC_FLAG_LONG;
		if (pmc_store(mc, PMC_OP_ADD, key, keylen, &v, ttl, 0))
			PG_RETURN_INT64(initial);
		/* a failure that on_error made a miss: stop here */
		if (pmc_on_error != PMC_ON_ERROR_ERROR)
			break;
	}
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
