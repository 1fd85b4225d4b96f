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
 *-------------------------------------------------------------------------
 */
#include "pylibmc_pg.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(pylibmc_pg_set);
PG_FUNCTION_INFO_V1(pylibmc_pg_add);
PG_FUNCTION_INFO_V1(pylibmc_pg_replace);
PG_FUNCTION_INFO_V1(pylibmc_pg_append);
PG_FUNCTION_INFO_V1(pylibmc_pg_prepend);
PG_FUNCTION_INFO_V1(pylibmc_pg_cas);
PG_FUNCTION_INFO_V1(pylibmc_pg_set_raw);
PG_FUNCTION_INFO_V1(pylibmc_pg_delete);
PG_FUNCTION_INFO_V1(pylibmc_pg_touch);

static const char *
op_verb(PmcOp op)
{
	switch (op)
	{
		case PMC_OP_SET:
			return "set";
		case PMC_OP_ADD:
			return "add";
		case PMC_OP_REPLACE:
			return "replace";
		case PMC_OP_APPEND:
			return "append to";
		case PMC_OP_PREPEND:
			return "prepend to";
		case PMC_OP_CAS:
			return "cas";
		case PMC_OP_DELETE:
			return "delete";
		case PMC_OP_TOUCH:
			return "touch";
		default:
			return pmc_op_name(op);
	}
}

/*
 * Send one storage command.  Returns true when stored; false when the
 * server declined (or a failure was turned into a miss by on_error).
 */
bool
pmc_store(memcached_st *mc, PmcOp op, const char *key, size_t keylen,
		  const PmcValue *value, time_t ttl, uint64_t cas)
{
	memcached_return_t rc;
	instr_time	start;

	/* libmemcached sends a request as one datagram: bound it clearly */
	if (pmc_client_is_udp() && keylen + value->len > PMC_MAX_UDP_VALUE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("value for key \"%s\" is too large for UDP", key),
				 errdetail("The key and value are %zu bytes; over UDP at most %d can be sent.",
						   keylen + value->len, PMC_MAX_UDP_VALUE),
				 errhint("Use TCP or UNIX-socket servers for large values.")));
	INSTR_TIME_SET_CURRENT(start);
	pmc_io_begin();
	switch (op)
	{
		case PMC_OP_SET:
			rc = memcached_set(mc, key, keylen, value->data, value->len, ttl, value->flags);
			break;
		case PMC_OP_ADD:
			rc = memcached_add(mc, key, keylen, value->data, value->len, ttl, value->flags);
			break;
		case PMC_OP_REPLACE:
			rc = memcached_replace(mc, key, keylen, value->data, value->len, ttl, value->flags);
			break;
		case PMC_OP_APPEND:
			rc = memcached_append(mc, key, keylen, value->data, value->len, 0, value->flags);
			break;
		case PMC_OP_PREPEND:
			rc = memcached_prepend(mc, key, keylen, value->data, value->len, 0, value->flags);
			break;
		case PMC_OP_CAS:
			rc = memcached_cas(mc, key, keylen, value->data, value->len, ttl, value->flags, cas);
			break;
		default:
			elog(ERROR, "unexpected storage operation %d", (int) op);
	}
	pmc_io_end();

	switch (rc)
	{
		case MEMCACHED_SUCCESS:
		case MEMCACHED_STORED:
			pmc_stats_count(mc, op, key, keylen, PMC_HIT, keylen + value->len, 0, start);
			return true;
		case MEMCACHED_NOTSTORED:
		case MEMCACHED_DATA_EXISTS:
		case MEMCACHED_NOTFOUND:
			pmc_stats_count(mc, op, key, keylen, PMC_MISS, keylen + value->len, 0, start);
			return false;
		default:
			pmc_stats_count(mc, op, key, keylen, PMC_ERROR, keylen + value->len, 0, start);
			return pmc_failure(mc, rc, op_verb(op), key, keylen);
	}
}

/* args: key, value, ttl, min_compress_len, compress_level */
static Datum
store_typed(FunctionCallInfo fcinfo, PmcOp op)
{
	size_t		keylen;
	char	   *key = pmc_key_from_text(PG_GETARG_TEXT_PP(0), &keylen);
	Oid			typid = pmc_value_argtype(fcinfo, 1);
	time_t		ttl = 0;
	PmcValue	value;
	memcached_st *mc;

	if (PG_NARGS() > 2)
		ttl = pmc_check_ttl(PG_GETARG_INT32(2));
	pmc_encode(PG_GETARG_DATUM(1), typid, &value);
	if (PG_NARGS() > 4)
		pmc_compress(&value, PG_GETARG_INT32(3), PG_GETARG_INT32(4));
	mc = pmc_client();
	PG_RETURN_BOOL(pmc_store(mc, op, key, keylen, &value, ttl, 0));
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
	Oid			typid = pmc_value_argtype(fcinfo, 1);
	uint64_t	cas = (uint64_t) PG_GETARG_INT64(2);
	time_t		ttl = pmc_check_ttl(PG_GETARG_INT32(3));
	PmcValue	value;
	memcached_st *mc;

	if (cas == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cas token must not be 0"),
				 errhint("Use the token returned by mc_gets().")));
	pmc_forbid_udp("mc_cas");
	pmc_encode(PG_GETARG_DATUM(1), typid, &value);
	mc = pmc_client();
	PG_RETURN_BOOL(pmc_store(mc, PMC_OP_CAS, key, keylen, &value, ttl, cas));
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
	PG_RETURN_BOOL(pmc_store(pmc_client(), PMC_OP_SET, key, keylen, &value, ttl, 0));
}

/*
 * Send a delete, or a touch to a new ttl.  True when the key existed.
 */
static bool
delete_or_touch(memcached_st *mc, PmcOp op, const char *key, size_t keylen, time_t ttl)
{
	memcached_return_t rc;
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	pmc_io_begin();
	if (op == PMC_OP_TOUCH)
		rc = memcached_touch(mc, key, keylen, ttl);
	else
		rc = memcached_delete(mc, key, keylen, 0);
	pmc_io_end();
	switch (rc)
	{
		case MEMCACHED_SUCCESS:
		case MEMCACHED_DELETED:
			pmc_stats_count(mc, op, key, keylen, PMC_HIT, keylen, 0, start);
			return true;
		case MEMCACHED_NOTFOUND:
			pmc_stats_count(mc, op, key, keylen, PMC_MISS, keylen, 0, start);
			return false;
		default:
			pmc_stats_count(mc, op, key, keylen, PMC_ERROR, keylen, 0, start);
			return pmc_failure(mc, rc, op_verb(op), key, keylen);
	}
}

/*
 * Delete now, or (ttl > 0) let the key expire in ttl seconds: memcached
 * refuses "delete key time", so that is a touch.  True when the key existed.
 */
bool
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

	PG_RETURN_BOOL(pmc_delete_key(pmc_client(), key, keylen, ttl));
}

Datum
pylibmc_pg_touch(PG_FUNCTION_ARGS)
{
	size_t		keylen;
	char	   *key = pmc_key_from_text(PG_GETARG_TEXT_PP(0), &keylen);
	time_t		ttl = pmc_check_ttl(PG_GETARG_INT32(1));

	pmc_forbid_udp("mc_touch");
	PG_RETURN_BOOL(delete_or_touch(pmc_client(), PMC_OP_TOUCH, key, keylen, ttl));
}
