/*-------------------------------------------------------------------------
 *
 * writes.c
 *	  mc_set, mc_add, mc_replace, mc_append, mc_prepend, mc_cas,
 *	  mc_set_raw, mc_delete and mc_touch.
 *
 * Every writer takes its value as any storable type (codec.c decides the
 * bytes and flags from the argument's type), so the SQL overloads for
 * text, bytea, jsonb, bigint and boolean all share one C function.
 *
 * "Not stored" outcomes are false, the same in both protocols: add on a
 * present key, replace/append/prepend on an absent one (pylibmc raises
 * NotFound for replace in binary), cas with a stale token or on a gone key.
 *
 * A tombstone or a lease marker (a pickled None, flags 1) is an absent
 * key: replace, append, prepend and touch (so mc_delete with a ttl) read
 * the key first and are false on one, leaving it as it is (add fails on
 * it as on any present key, set overwrites it, cas never has its token).
 * A marker stored between that read and the write is not seen.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "client.h"
#include "codec.h"
#include "compat.h"
#include "exchange.h"
#include "keys.h"
#include "operations.h"
#include "stats.h"

PG_FUNCTION_INFO_V1(pylibmc_pg_set);
PG_FUNCTION_INFO_V1(pylibmc_pg_add);
PG_FUNCTION_INFO_V1(pylibmc_pg_replace);
PG_FUNCTION_INFO_V1(pylibmc_pg_append);
PG_FUNCTION_INFO_V1(pylibmc_pg_prepend);
PG_FUNCTION_INFO_V1(pylibmc_pg_cas);
PG_FUNCTION_INFO_V1(pylibmc_pg_set_raw);
PG_FUNCTION_INFO_V1(pylibmc_pg_delete);
PG_FUNCTION_INFO_V1(pylibmc_pg_touch);

/* The verb of "could not VERB key": the operation's name (stats.c's table) */
static const char *
op_verb(PmcOp op)
{
	switch (op)
	{
		case PMC_OP_APPEND:
			return "append to";
		case PMC_OP_PREPEND:
			return "prepend to";
		default:
			return pmc_op_name(op);
	}
}

/*
 * A key of a multi-key call whose server failed earlier in the call: not
 * sent, counted as an error (the failure was reported once already).
 */
static PmcOutcome
skipped_key(memcached_st *mc, PmcOp op, const char *key, size_t keylen)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	pmc_stats_count(mc, op, key, keylen, PMC_ERROR, 0, 0, now);
	return PMC_ERROR;
}

/*
 * Read the key before the write.  MISS: no tombstone or lease marker, the
 * write goes on.  HIT: the key holds one, so the call is false, counted as
 * a miss; ERROR: the read failed (reported as the call's own failure,
 * counted as its error, one timeout rather than two).  Either way nothing
 * more is sent.
 */
static PmcOutcome
check_none(memcached_st *mc, PmcOp op, const char *key, size_t keylen)
{
	instr_time	now;
	PmcOutcome	found = pmc_key_holds_none(mc, op_verb(op), key, keylen, NULL);

	if (found == PMC_MISS)
		return PMC_MISS;
	INSTR_TIME_SET_CURRENT(now);
	pmc_stats_count(mc, op, key, keylen, found == PMC_HIT ? PMC_MISS : PMC_ERROR, 0, 0, now);
	return found;
}

typedef struct StoreArgs
{
	PmcOp		op;
	const char *key;
	size_t		keylen;
	const PmcValue *value;
	time_t		ttl;
	uint64_t	cas;
} StoreArgs;

static memcached_return_t
send_store(memcached_st *mc, void *arg)
{
	StoreArgs  *a = (StoreArgs *) arg;
	const PmcValue *v = a->value;
	const char *key = a->key;
	size_t		keylen = a->keylen;

	switch (a->op)
	{
		case PMC_OP_SET:
			return memcached_set(mc, key, keylen, v->data, v->len, a->ttl, v->flags);
		case PMC_OP_ADD:
			return memcached_add(mc, key, keylen, v->data, v->len, a->ttl, v->flags);
		case PMC_OP_REPLACE:
			return memcached_replace(mc, key, keylen, v->data, v->len, a->ttl, v->flags);
		case PMC_OP_APPEND:
			return memcached_append(mc, key, keylen, v->data, v->len, 0, v->flags);
		case PMC_OP_PREPEND:
			return memcached_prepend(mc, key, keylen, v->data, v->len, 0, v->flags);
		case PMC_OP_CAS:
		case PMC_OP_FILL:
			return memcached_cas(mc, key, keylen, v->data, v->len, a->ttl, v->flags, a->cas);
		case PMC_OP_LEASE:
			return memcached_add(mc, key, keylen, v->data, v->len, a->ttl, v->flags);
		default:
			return MEMCACHED_NOT_SUPPORTED;
	}
}

/*
 * Send one storage command.  HIT when stored; MISS when the server
 * declined; ERROR when it failed and on_error let the call go on.
 */
PmcOutcome
pmc_store(memcached_st *mc, PmcOp op, const char *key, size_t keylen,
		  const PmcValue *value, time_t ttl, uint64_t cas)
{
	PmcExchange x;
	StoreArgs	a;

	/* libmemcached sends a request as one datagram: bound it clearly */
	if (pmc_client_is_udp() && keylen + value->len > PMC_MAX_UDP_VALUE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("value for key \"%s\" is too large for UDP", key),
				 errdetail("The key and value are %zu bytes; over UDP at most %d can be sent.",
						   keylen + value->len, PMC_MAX_UDP_VALUE),
				 errhint("Use TCP or UNIX-socket servers for large values.")));
	a.op = op;
	a.key = key;
	a.keylen = keylen;
	a.value = value;
	a.ttl = ttl;
	a.cas = cas;
	pmc_exchange_init(&x, mc, op, op_verb(op), key, keylen);
	x.sent = keylen + value->len;
	/* a set stores the same thing twice; the others could apply twice */
	x.retry_safe = (op == PMC_OP_SET);
	if (pmc_call_server_failed(mc, key, keylen))
		return skipped_key(mc, op, key, keylen);
	return pmc_exchange(&x, send_store, &a);
}

/* args: key, value, ttl, min_compress_len, compress_level */
static Datum
store_typed(FunctionCallInfo fcinfo, PmcOp op)
{
	size_t		keylen;
	char		keybuf[PMC_KEY_BUFSIZE];
	char	   *key = pmc_key_into(PG_GETARG_TEXT_PP(0), keybuf, &keylen);
	Oid			typid = pmc_value_argtype_cached(fcinfo, 1);
	time_t		ttl = 0;
	PmcValue	value;
	memcached_st *mc;

	if (PG_NARGS() > 2)
		ttl = pmc_check_ttl(PG_GETARG_INT32(2));
	pmc_encode(PG_GETARG_DATUM(1), typid, &value);
	if (PG_NARGS() > 4)
	{
		int32		min_compress_len = PG_GETARG_INT32(3);
		int32		compress_level = PG_GETARG_INT32(4);

		/* min_compress_len 0 (the default) never compresses: no call */
		if (min_compress_len != 0 || compress_level < -1 || compress_level > 9)
			pmc_compress(&value, min_compress_len, compress_level);
	}
	mc = pmc_client_for_key(key, keylen);
	if ((op == PMC_OP_REPLACE || op == PMC_OP_APPEND || op == PMC_OP_PREPEND) &&
		check_none(mc, op, key, keylen) != PMC_MISS)
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(pmc_store(mc, op, key, keylen, &value, ttl, 0) == PMC_HIT);
}

Datum
pylibmc_pg_set(PG_FUNCTION_ARGS)
{
	return store_typed(fcinfo, PMC_OP_SET);
}

Datum
pylibmc_pg_add(PG_FUNCTION_ARGS)
{
	return store_typed(fcinfo, PMC_OP_ADD);
}

Datum
pylibmc_pg_replace(PG_FUNCTION_ARGS)
{
	return store_typed(fcinfo, PMC_OP_REPLACE);
}

/* append/prepend: raw bytes, the stored flags stay (memcached keeps them) */
Datum
pylibmc_pg_append(PG_FUNCTION_ARGS)
{
	return store_typed(fcinfo, PMC_OP_APPEND);
}

Datum
pylibmc_pg_prepend(PG_FUNCTION_ARGS)
{
	return store_typed(fcinfo, PMC_OP_PREPEND);
}

/*
 * mc_cas(key, value, cas, ttl): never compressed (as pylibmc).  A token of
 * 0 is never issued by memcached and would desynchronise libmemcached's
 * ASCII connection, so it is refused before anything is sent.
 */
Datum
pylibmc_pg_cas(PG_FUNCTION_ARGS)
{
	size_t		keylen;
	char	   *key = pmc_key_from_text(PG_GETARG_TEXT_PP(0), &keylen);
	Oid			typid = pmc_value_argtype_cached(fcinfo, 1);
	uint64_t	cas = (uint64_t) PG_GETARG_INT64(2);
	time_t		ttl = pmc_check_ttl(PG_GETARG_INT32(3));
	PmcValue	value;
	memcached_st *mc;

	if (cas == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cas token must not be 0"),
				 errhint("Use the token returned by mc_gets().")));

	/*
	 * Tokens are unsigned 64-bit; bigint holds 1 .. 2^63-1 of them, which is
	 * every token memcached issues in practice (a counter from 1).  Refuse
	 * the rest the same way in both protocols (libmemcached's ASCII buffer
	 * cannot even format the largest ones).
	 */
	if (PG_GETARG_INT64(2) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("cas token %lld is out of range", (long long) PG_GETARG_INT64(2)),
				 errdetail("Tokens are between 1 and 9223372036854775807."),
				 errhint("Use the token returned by mc_gets().")));
	pmc_forbid_udp("mc_cas");
	pmc_encode(PG_GETARG_DATUM(1), typid, &value);
	mc = pmc_client_for_key(key, keylen);
	PG_RETURN_BOOL(pmc_store(mc, PMC_OP_CAS, key, keylen, &value, ttl, cas) == PMC_HIT);
}

/* mc_set_raw(key, value bytea, flags int, ttl): the serialize hook */
Datum
pylibmc_pg_set_raw(PG_FUNCTION_ARGS)
{
	size_t		keylen;
	char	   *key = pmc_key_from_text(PG_GETARG_TEXT_PP(0), &keylen);
	bytea	   *b = PG_GETARG_BYTEA_PP(1);
	time_t		ttl = pmc_check_ttl(PG_GETARG_INT32(3));
	PmcValue	value;

	value.data = VARDATA_ANY(b);
	value.len = VARSIZE_ANY_EXHDR(b);
	value.flags = (uint32) PG_GETARG_INT32(2);
	PG_RETURN_BOOL(pmc_store(pmc_client_for_key(key, keylen), PMC_OP_SET, key, keylen,
							 &value, ttl, 0) == PMC_HIT);
}

typedef struct DeleteArgs
{
	PmcOp		op;
	const char *key;
	size_t		keylen;
	time_t		ttl;
} DeleteArgs;

static memcached_return_t
send_delete_or_touch(memcached_st *mc, void *arg)
{
	DeleteArgs *a = (DeleteArgs *) arg;

	if (a->op == PMC_OP_TOUCH)
		return memcached_touch(mc, a->key, a->keylen, a->ttl);
	return memcached_delete(mc, a->key, a->keylen, 0);
}

/*
 * Send a delete, or a touch to a new ttl.  HIT when the key existed.
 */
static PmcOutcome
delete_or_touch(memcached_st *mc, PmcOp op, const char *key, size_t keylen, time_t ttl)
{
	PmcExchange x;
	DeleteArgs	a = {op, key, keylen, ttl};

	pmc_exchange_init(&x, mc, op, op_verb(op), key, keylen);
	x.retry_safe = true;
	if (pmc_call_server_failed(mc, key, keylen))
		return skipped_key(mc, op, key, keylen);
	if (op == PMC_OP_TOUCH)
	{
		PmcOutcome	found = check_none(mc, op, key, keylen);

		if (found != PMC_MISS)
			return found == PMC_HIT ? PMC_MISS : PMC_ERROR;
	}
	return pmc_exchange(&x, send_delete_or_touch, &a);
}

/*
 * Delete now, or (ttl > 0) let the key expire in ttl seconds: memcached
 * refuses "delete key time", so that is a touch.  True when the key existed.
 */
PmcOutcome
pmc_delete_key(memcached_st *mc, const char *key, size_t keylen, time_t ttl)
{
	if (ttl > 0)
	{
		pmc_forbid_udp("mc_delete with a ttl");
		return delete_or_touch(mc, PMC_OP_TOUCH, key, keylen, ttl);
	}
	return delete_or_touch(mc, PMC_OP_DELETE, key, keylen, 0);
}

Datum
pylibmc_pg_delete(PG_FUNCTION_ARGS)
{
	size_t		keylen;
	char	   *key = pmc_key_from_text(PG_GETARG_TEXT_PP(0), &keylen);
	time_t		ttl = pmc_check_ttl(PG_GETARG_INT32(1));

	PG_RETURN_BOOL(pmc_delete_key(pmc_client_for_key(key, keylen), key, keylen, ttl) == PMC_HIT);
}

Datum
pylibmc_pg_touch(PG_FUNCTION_ARGS)
{
	size_t		keylen;
	char	   *key = pmc_key_from_text(PG_GETARG_TEXT_PP(0), &keylen);
	time_t		ttl = pmc_check_ttl(PG_GETARG_INT32(1));

	pmc_forbid_udp("mc_touch");
	PG_RETURN_BOOL(delete_or_touch(pmc_client_for_key(key, keylen), PMC_OP_TOUCH,
								   key, keylen, ttl) == PMC_HIT);
}
