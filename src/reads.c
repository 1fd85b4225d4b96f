/*-------------------------------------------------------------------------
 *
 * reads.c
 *	  mc_get, mc_gets and mc_get_raw; and the check that the calls which
 *	  must treat a tombstone or a lease marker as an absent key make first.
 *
 * Values are read into the client's own result buffer (see client.c), so
 * no libmemcached memory is allocated per call, and none can leak on an
 * ERROR.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "client.h"
#include "codec.h"
#include "exchange.h"
#include "keys.h"
#include "operations.h"
#include "settings.h"
#include "stats.h"

PG_FUNCTION_INFO_V1(pylibmc_pg_get);
PG_FUNCTION_INFO_V1(pylibmc_pg_gets);
PG_FUNCTION_INFO_V1(pylibmc_pg_get_raw);

typedef PmcRawValue RawValue;

typedef struct ReadArgs
{
	const char *key;
	size_t		keylen;
	RawValue   *raw;
	PmcExchange *x;
	bool		cas;			/* a CAS token is wanted (mc_gets) */
} ReadArgs;

/*
 * One multi-get of one key, read to the end (END), so nothing is left on
 * the socket.  libmemcached's fetch reports some failures as a miss
 * (memcached_fetch_result turns any error into NOTFOUND when nothing was
 * read in that fetch): a failure it recorded during this request
 * (memcached_last_error is cleared when a request starts) is one.
 */
static memcached_return_t
fetch_one_reply(memcached_st *mc, ReadArgs *a)
{
	RawValue   *raw = a->raw;
	memcached_result_st *buffer = pmc_client_result();
	memcached_result_st *spare = pmc_client_spare_result();
	memcached_result_st *result;
	memcached_return_t rc;
	const char *keys[1] = {a->key};
	size_t		lens[1] = {a->keylen};

	memset(raw, 0, sizeof(*raw));
	rc = memcached_mget(mc, keys, lens, 1);
	if (rc != MEMCACHED_SUCCESS)
		return rc;
	/* after the value, the END marker (or a stray reply) goes to spare */
	while ((result = memcached_fetch_result(mc, raw->found ? spare : buffer, &rc)) != NULL)
	{
		if (raw->found)
			continue;			/* more than we asked for: read, dropped */
		if (memcached_result_key_length(result) == a->keylen &&
			memcmp(memcached_result_key_value(result), a->key, a->keylen) == 0)
		{
			raw->data = memcached_result_value(result);
			raw->len = memcached_result_length(result);
			raw->flags = memcached_result_flags(result);
			raw->cas = memcached_result_cas(result);
			raw->found = true;
		}
	}
	if (rc == MEMCACHED_END || rc == MEMCACHED_NOTFOUND || rc == MEMCACHED_SUCCESS)
	{
		if ((rc = pmc_fetch_failure(mc)) != MEMCACHED_SUCCESS)
			return rc;
		a->x->outcome = raw->found ? PMC_HIT : PMC_MISS;
		a->x->received = raw->len;
		return MEMCACHED_SUCCESS;
	}
	return rc;
}

/*
 * The binary protocol without a CAS token: memcached_get() sends one GETK
 * and reads its one reply (a multi-get of one key sends GETKQ, then a NOOP
 * to learn that it is over: two packets, two replies parsed).  The value
 * is libmemcached's malloc'd copy: the client keeps it until the caller
 * has decoded it (pmc_client_release_value(), or the next read, or the
 * abort callbacks after an ERROR).
 */
static memcached_return_t
fetch_one_getk(memcached_st *mc, ReadArgs *a)
{
	RawValue   *raw = a->raw;
	memcached_return_t rc;
	size_t		len = 0;
	uint32_t	flags = 0;
	char	   *value;

	memset(raw, 0, sizeof(*raw));
	value = memcached_get(mc, a->key, a->keylen, &len, &flags, &rc);
	pmc_client_keep_value(value);
	if (rc == MEMCACHED_SUCCESS)
	{
		const memcached_result_st *reply = &mc->result;	/* what it read into */

		/* an empty value comes back as NULL; NULL for bytes: out of memory */
		if (value == NULL && len > 0)
			return MEMCACHED_MEMORY_ALLOCATION_FAILURE;
		/* a reply for another key: the connection is out of step, never its value */
		if (memcached_result_key_length(reply) != a->keylen ||
			memcmp(memcached_result_key_value(reply), a->key, a->keylen) != 0)
			return MEMCACHED_PROTOCOL_ERROR;
		raw->data = value;
		raw->len = len;
		raw->flags = flags;
		/* a binary reply always carries the item's cas in its header */
		raw->cas = memcached_result_cas(reply);
		raw->found = true;
	}
	else if (rc != MEMCACHED_NOTFOUND ||
			 (rc = pmc_fetch_failure(mc)) != MEMCACHED_SUCCESS)
		return rc;
	a->x->outcome = raw->found ? PMC_HIT : PMC_MISS;
	a->x->received = raw->len;
	return MEMCACHED_SUCCESS;
}

/*
 * One key's value: GETK in binary (its reply's header has the cas token
 * too), else a multi-get of one key, with CAS parsing on around it when a
 * token is wanted.
 */
static memcached_return_t
fetch_one(memcached_st *mc, void *arg)
{
	ReadArgs   *a = (ReadArgs *) arg;
	memcached_return_t rc;

	if (pmc_binary)
		return fetch_one_getk(mc, a);	/* with its cas, one packet */
	if (!a->cas)
		return fetch_one_reply(mc, a);
	pmc_client_set_cas(mc, true);
	rc = fetch_one_reply(mc, a);
	pmc_client_set_cas(mc, false);
	return rc;
}

/*
 * Read one key into the client's result buffer, counted under op (a get;
 * PMC_NUM_OPS: not counted).  Returns false on a miss or on a failure that
 * on_error turns into a miss.  The caller releases the value
 * (pmc_client_release_value()) once it has decoded it.
 */
bool
pmc_read_one(memcached_st *mc, PmcOp op, const char *key, size_t keylen,
			 PmcRawValue *raw, bool cas)
{
	PmcExchange x;
	ReadArgs	a = {key, keylen, raw, &x, cas};

	memset(raw, 0, sizeof(*raw));
	pmc_exchange_init(&x, mc, op, "get", key, keylen);
	x.retry_safe = true;
	if (pmc_exchange(&x, fetch_one, &a) != PMC_HIT)
	{
		raw->found = false;
		return false;
	}
	return true;
}

/*
 * Does the key hold a pickled None: the invalidation hold's tombstone or a
 * lease marker (pmc_value_is_none_pickle)?  For the calls that must treat
 * one as an absent key (writes.c, counters.c).  One get with its cas
 * token, not counted.  PMC_HIT: it does (*cas, when given, is the
 * marker's token); PMC_MISS: it does not, or the key is absent, or UDP
 * (no reads); PMC_ERROR: the read failed, reported as "could not VERB
 * key" (an ERROR, or on_error let the call go on).  With verb NULL the
 * read is quiet and a failure is PMC_MISS (the caller has just had a
 * reply from that server).
 */
PmcOutcome
pmc_key_holds_none(memcached_st *mc, const char *verb, const char *key, size_t keylen,
				   uint64_t *cas)
{
	PmcExchange x;
	RawValue	raw;
	ReadArgs	a = {key, keylen, &raw, &x, true};
	PmcOutcome	outcome;
	PmcOutcome	result = PMC_MISS;

	if (cas != NULL)
		*cas = 0;
	if (pmc_client_is_udp())
		return PMC_MISS;
	memset(&raw, 0, sizeof(raw));
	pmc_exchange_init(&x, mc, PMC_NUM_OPS, verb ? verb : "get", key, keylen);
	x.quiet = (verb == NULL);
	x.retry_safe = true;
	outcome = pmc_exchange(&x, fetch_one, &a);
	if (outcome == PMC_HIT && raw.found &&
		pmc_value_is_none_pickle(raw.data, raw.len, raw.flags))
	{
		result = PMC_HIT;
		if (cas != NULL)
			*cas = raw.cas;
	}
	else if (outcome == PMC_ERROR && verb != NULL)
		result = PMC_ERROR;
	pmc_client_release_value();
	return result;
}

static Datum
decode_raw(RawValue *raw, Oid typid, const char *key, size_t keylen, bool *isnull)
{
	return pmc_decode(raw->data ? raw->data : "", raw->len, raw->flags,
					  typid, key, keylen, isnull);
}

/*
 * mc_get(key text) returns text, and mc_get(key text, as_type anyelement)
 * returns anyelement: NULL on a miss.
 */
Datum
pylibmc_pg_get(PG_FUNCTION_ARGS)
{
	size_t		keylen;
	char		keybuf[PMC_KEY_BUFSIZE];
	char	   *key;
	Oid			typid = TEXTOID;
	memcached_st *mc;
	RawValue	raw;
	Datum		result;
	bool		isnull;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (PG_NARGS() > 1)
		typid = pmc_value_argtype_cached(fcinfo, 1);
	key = pmc_key_into(PG_GETARG_TEXT_PP(0), keybuf, &keylen);
	pmc_forbid_udp("mc_get");
	mc = pmc_client_for_key(key, keylen);
	if (!pmc_read_one(mc, PMC_OP_GET, key, keylen, &raw, false))
		PG_RETURN_NULL();
	result = decode_raw(&raw, typid, key, keylen, &isnull);
	pmc_client_release_value();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/*
 * mc_gets(key) returns (value, cas): (NULL, NULL) on a miss.  The 64-bit
 * token is returned as a bigint with the same bits, so it round-trips.
 */
Datum
pylibmc_pg_gets(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {true, true};
	Oid			typid = TEXTOID;
	size_t		keylen;
	char	   *key;
	memcached_st *mc;
	RawValue	raw;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	/* the typed form is not STRICT (as_type is usually a NULL): check key */
	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
	if (PG_NARGS() > 1)
		typid = pmc_value_argtype(fcinfo, 1);
	key = pmc_key_from_text(PG_GETARG_TEXT_PP(0), &keylen);
	pmc_forbid_udp("mc_gets");
	mc = pmc_client_for_key(key, keylen);
	if (!pmc_client_cas_wanted())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mc_gets requires the cas behavior"),
				 errhint("Remove \"cas=false\" from pylibmc_pg.behaviors.")));
	if (pmc_read_one(mc, PMC_OP_GET, key, keylen, &raw, true))
	{
		uint64_t	cas = raw.cas;

		/* bigint holds the tokens mc_cas takes; see pylibmc_pg_cas */
		if (cas > (uint64_t) PG_INT64_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("cas token of key \"%s\" is out of range for type bigint", key),
					 errdetail("memcached issued %llu.", (unsigned long long) cas)));
		values[0] = decode_raw(&raw, typid, key, keylen, &nulls[0]);
		if (!nulls[0])
		{
			values[1] = Int64GetDatum((int64) cas);
			nulls[1] = false;
		}
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * mc_get_raw(key) returns (value bytea, flags int): the stored bytes and
 * flags word as they are (compressed values stay compressed); (NULL, NULL)
 * on a miss.  Flags above 2^31 show as negative integers.
 */
Datum
pylibmc_pg_get_raw(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {true, true};
	size_t		keylen;
	char	   *key;
	memcached_st *mc;
	RawValue	raw;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	key = pmc_key_from_text(PG_GETARG_TEXT_PP(0), &keylen);
	pmc_forbid_udp("mc_get_raw");
	mc = pmc_client_for_key(key, keylen);
	if (pmc_read_one(mc, PMC_OP_GET, key, keylen, &raw, false))
	{
		bytea	   *b;

		pmc_check_datum_size(raw.len, key);
		b = palloc_extended(raw.len + VARHDRSZ, MCXT_ALLOC_HUGE);

		SET_VARSIZE(b, raw.len + VARHDRSZ);
		if (raw.len)
			memcpy(VARDATA(b), raw.data, raw.len);
		values[0] = PointerGetDatum(b);
		values[1] = Int32GetDatum((int32) raw.flags);
		nulls[0] = nulls[1] = false;
		pmc_client_release_value();
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
