/*-------------------------------------------------------------------------
 *
 * lease.c
 *	  Leases: mc_lease, mc_fill and mc_cached, cache fills that can never
 *	  store a stale or an uncommitted row, and one filler per missing key.
 *
 * The protocol (stock memcached, the commands pylibmc speaks too):
 *
 *	1. claim: add the lease marker (value.h: a pickled None other than the
 *	   hold's tombstone, flags 1), then learn its cas token with gets;
 *	2. read the row with a snapshot taken after that gets;
 *	3. fill: cas with the token.
 *
 * Every invalidation after the claim (a commit-time delete, a hold's
 * tombstone, a write-through set, an eviction, the lease's expiry) changes
 * or removes the item, so the cas fails; every invalidation before it was
 * sent after its transaction committed, so before the snapshot of step 2,
 * which therefore sees the new row.  No hold, no tuning, any latency
 * between the read and the fill.
 *
 * Two kinds of transaction cannot promise step 2, and never fill (counted
 * apart, fill_refused_written and fill_refused_isolation):
 *	- one that has written (it has an xid): its reads may see its own
 *	  uncommitted rows, which would be cached for everyone if it rolled
 *	  back, and before its commit if it commits;
 *	- REPEATABLE READ and SERIALIZABLE: the transaction's snapshot was
 *	  taken at its first statement, possibly before the claim.
 * mc_lease claims nothing in them (a claim that cannot be filled would
 * only make the other sessions wait), and mc_fill refuses too (the
 * transaction may have written since).
 *
 * A hit costs mc_cached one get; a miss one get, the add and the gets of
 * the claim, and the cas of the fill.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "parser/parse_param.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"

#include "client.h"
#include "codec.h"
#include "compat.h"
#include "exchange.h"
#include "keys.h"
#include "operations.h"
#include "settings.h"
#include "stats.h"

PG_FUNCTION_INFO_V1(pylibmc_pg_lease);
PG_FUNCTION_INFO_V1(pylibmc_pg_fill);
PG_FUNCTION_INFO_V1(pylibmc_pg_cached);

/* the lease mc_cached takes: its query must run within it */
#define PMC_CACHED_LEASE_TTL	10

/* polling another session's lease: from 2 ms, doubling, at most 50 ms */
#define PMC_LEASE_POLL_FIRST_MS	2
#define PMC_LEASE_POLL_MAX_MS	50

/*
 * May this transaction fill?  PMC_NUM_OPS: yes; else the counter its
 * refusal goes to.
 */
static PmcOp
fill_refusal(void)
{
	/* an xid is assigned at the first write, in any subtransaction */
	if (TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return PMC_OP_FILL_WRITTEN;
	if (IsolationUsesXactSnapshot())
		return PMC_OP_FILL_ISOLATION;
	return PMC_NUM_OPS;
}

static void
count_refusal(memcached_st *mc, PmcOp why, const char *key, size_t keylen)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	pmc_stats_count(mc, why, key, keylen, PMC_MISS, 0, 0, now);
}

/*
 * Claim a missing key for ttl seconds: add the lease marker, then read its
 * cas token.  0 when the key exists (a value, a lease, a tombstone), when
 * the marker was replaced before the gets, or when a failure was let go
 * by on_error (then *failed, when given, is set).
 */
static uint64_t
lease_claim(memcached_st *mc, const char *key, size_t keylen, time_t ttl, bool *failed)
{
	PmcValue	marker;
	PmcRawValue raw;
	uint64_t	token = 0;
	PmcOutcome	added;

	marker.data = (char *) PMC_LEASE_MARKER;
	marker.len = PMC_LEASE_MARKER_LEN;
	marker.flags = PMC_LEASE_MARKER_FLAGS;
	added = pmc_store(mc, PMC_OP_LEASE, key, keylen, &marker, ttl, 0);
	if (failed != NULL)
		*failed = (added == PMC_ERROR);
	if (added != PMC_HIT)
		return 0;
	/* the token of a marker: ours, or (ours deleted since) another's */
	if (pmc_read_one(mc, PMC_NUM_OPS, key, keylen, &raw, true) &&
		pmc_value_is_lease(raw.data, raw.len, raw.flags) &&
		raw.cas <= (uint64_t) PG_INT64_MAX)
		token = raw.cas;
	pmc_client_release_value();
	return token;
}

/* Store value by cas with the lease's token: HIT stored, MISS broken */
static PmcOutcome
lease_fill(memcached_st *mc, const char *key, size_t keylen, PmcValue *value,
		   time_t ttl, uint64_t token)
{
	return pmc_store(mc, PMC_OP_FILL, key, keylen, value, ttl, token);
}

static memcached_return_t
send_delete(memcached_st *mc, void *arg)
{
	PmcExchange *x = (PmcExchange *) arg;

	return memcached_delete(mc, x->key, x->keylen, 0);
}

/*
 * Give back a lease that will not be filled (its query failed, or wrote),
 * so that the other sessions need not wait for its expiry: delete the key
 * if it still holds a marker with our token.  Quiet and best effort (it
 * runs while an ERROR is on its way): a failure leaves the lease to its
 * ttl.  An item stored between the gets and the delete is deleted too,
 * which at worst makes the next reader miss.
 */
static void
lease_release(memcached_st *mc, const char *key, size_t keylen, uint64_t token)
{
	PmcExchange x;
	uint64_t	cas;

	if (pmc_key_holds_none(mc, NULL, key, keylen, &cas) != PMC_HIT || cas != token)
		return;
	pmc_exchange_init(&x, mc, PMC_NUM_OPS, "delete", key, keylen);
	x.quiet = true;
	pmc_exchange(&x, send_delete, &x);
}

/* ttl and compression arguments as mc_set takes them; NULL: the default */
static void
fill_options(FunctionCallInfo fcinfo, int argno, time_t *ttl,
			 int32 *min_compress_len, int32 *compress_level)
{
	*ttl = 0;
	*min_compress_len = 0;
	*compress_level = -1;
	if (PG_NARGS() > argno && !PG_ARGISNULL(argno))
		*ttl = pmc_check_ttl(PG_GETARG_INT32(argno));
	if (PG_NARGS() > argno + 1 && !PG_ARGISNULL(argno + 1))
		*min_compress_len = PG_GETARG_INT32(argno + 1);
	if (PG_NARGS() > argno + 2 && !PG_ARGISNULL(argno + 2))
		*compress_level = PG_GETARG_INT32(argno + 2);
	pmc_check_compression(*min_compress_len, *compress_level);
}

static void
encode_fill(Datum datum, Oid typid, int32 min_compress_len, int32 compress_level,
			PmcValue *value)
{
	pmc_encode(datum, typid, value);
	if (min_compress_len != 0)
		pmc_compress(value, min_compress_len, compress_level);
}

/*
 * mc_lease(key, ttl DEFAULT 10) returns bigint: the lease's token, or NULL
 * when the key exists or could not be claimed, or when this transaction
 * may not fill (counted as a refused fill).
 */
Datum
pylibmc_pg_lease(PG_FUNCTION_ARGS)
{
	size_t		keylen;
	char		keybuf[PMC_KEY_BUFSIZE];
	char	   *key = pmc_key_into(PG_GETARG_TEXT_PP(0), keybuf, &keylen);
	int32		ttl = PG_GETARG_INT32(1);
	memcached_st *mc;
	PmcOp		refused;
	uint64_t	token;

	if (ttl < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lease ttl must be at least 1 second"),
				 errdetail("A lease without expiry would block the key for good if its filler never came back.")));
	pmc_check_ttl(ttl);
	pmc_forbid_udp("mc_lease");
	mc = pmc_client_for_key(key, keylen);
	refused = fill_refusal();
	if (refused != PMC_NUM_OPS)
	{
		count_refusal(mc, refused, key, keylen);
		PG_RETURN_NULL();
	}
	token = lease_claim(mc, key, keylen, ttl, NULL);
	if (token == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64((int64) token);
}

/*
 * mc_fill(key, value, lease, ttl, min_compress_len, compress_level) returns
 * boolean: stored by cas with the lease's token; false when the lease is
 * broken (an invalidation, a write-through, an eviction or its expiry came
 * first), and, counted apart, in a transaction that may not fill.
 */
Datum
pylibmc_pg_fill(PG_FUNCTION_ARGS)
{
	size_t		keylen;
	char		keybuf[PMC_KEY_BUFSIZE];
	char	   *key = pmc_key_into(PG_GETARG_TEXT_PP(0), keybuf, &keylen);
	Oid			typid = pmc_value_argtype_cached(fcinfo, 1);
	int64		token = PG_GETARG_INT64(2);
	time_t		ttl;
	int32		min_compress_len;
	int32		compress_level;
	memcached_st *mc;
	PmcOp		refused;
	PmcValue	value;

	if (token <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lease token %lld is out of range", (long long) token),
				 errhint("Use the token returned by mc_lease().")));
	fill_options(fcinfo, 3, &ttl, &min_compress_len, &compress_level);
	pmc_forbid_udp("mc_fill");
	mc = pmc_client_for_key(key, keylen);
	refused = fill_refusal();
	if (refused != PMC_NUM_OPS)
	{
		count_refusal(mc, refused, key, keylen);
		PG_RETURN_BOOL(false);
	}
	encode_fill(PG_GETARG_DATUM(1), typid, min_compress_len, compress_level, &value);
	PG_RETURN_BOOL(lease_fill(mc, key, keylen, &value, ttl, (uint64_t) token) == PMC_HIT);
}

/* ---------- mc_cached ---------- */

typedef enum LookResult
{
	LOOK_VALUE,					/* a value, decoded */
	LOOK_ABSENT,
	LOOK_LEASE,					/* another filler's lease */
	LOOK_OTHER					/* a tombstone, or a value we cannot read */
} LookResult;

/* Read the key (counted under op): what it holds, and the value if any */
static LookResult
look(memcached_st *mc, PmcOp op, const char *key, size_t keylen, Oid typid,
	 Datum *result)
{
	PmcRawValue raw;
	LookResult	what;
	bool		isnull;

	if (!pmc_read_one(mc, op, key, keylen, &raw, false))
		return LOOK_ABSENT;
	if (pmc_value_is_lease(raw.data, raw.len, raw.flags))
		what = LOOK_LEASE;
	else
	{
		*result = pmc_decode(raw.data ? raw.data : "", raw.len, raw.flags,
							 typid, key, keylen, &isnull);
		what = isnull ? LOOK_OTHER : LOOK_VALUE;
	}
	pmc_client_release_value();
	return what;
}

/* Wait ms milliseconds, or less when interrupted; then serve interrupts */
static void
lease_sleep(long ms)
{
	int			rc;

	rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
				   ms, PG_WAIT_EXTENSION);
	if (rc & WL_LATCH_SET)
		ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

/* the parameters' types, as the parser infers them (PREPARE without types) */
typedef struct QueryParams
{
	Oid		   *types;
	int			ntypes;
} QueryParams;

static void
setup_query_params(ParseState *pstate, void *arg)
{
	QueryParams *p = (QueryParams *) arg;

	pmc_parse_variable_parameters(pstate, &p->types, &p->ntypes);
}

/*
 * Run mc_cached's query: at most one row of one column, $1.. bound from
 * params (each text converted to the type the query gives it), with the
 * caller's privileges.  The value, converted to typid, in the caller's
 * memory context; *isnull when no row or a NULL.
 *
 * The snapshot: SPI_execute_plan_with_paramlist with read_only false takes
 * a new snapshot for the statement (_SPI_execute_plan: "take a full new
 * snapshot for each user command"), which in READ COMMITTED is a fresh
 * one, taken now, after the claim.  The other isolation levels never get
 * here with a lease (fill_refusal).
 */
static Datum
run_query(text *query, ArrayType *params, Oid typid, bool *isnull)
{
	MemoryContext caller = CurrentMemoryContext;
	QueryParams qp = {NULL, 0};
	Datum	   *texts = NULL;
	bool	   *textnulls = NULL;
	int			ntexts = 0;
	char	   *src = text_to_cstring(query);
	SPIPlanPtr	plan;
	ParamListInfo paramlist;
	int			rc;
	Datum		result = (Datum) 0;

	if (params != NULL)
	{
		if (ARR_NDIM(params) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("params must be a one-dimensional array")));
		deconstruct_array(params, TEXTOID, -1, false, TYPALIGN_INT,
						  &texts, &textnulls, &ntexts);
	}

	/*
	 * The parser grows the types array with repalloc, which keeps a chunk in
	 * the context it came from; left NULL, the parser would palloc it in
	 * SPI's execution context, which SPI_prepare_params resets before it
	 * returns.  So the array starts here, in the caller's context.
	 */
	qp.types = palloc0(sizeof(Oid));
	qp.ntypes = 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare_params(src, setup_query_params, &qp, 0);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare_params failed: %s", SPI_result_code_string(SPI_result));
	if (qp.ntypes != ntexts)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_plural("query has %d parameter but params has %d elements",
								"query has %d parameters but params has %d elements",
								qp.ntypes, qp.ntypes, ntexts),
				 errhint("Give one element of params for each of $1 to $%d.", Max(qp.ntypes, 1))));
	paramlist = makeParamList(ntexts);
	for (int i = 0; i < ntexts; i++)
	{
		ParamExternData *prm = &paramlist->params[i];
		Oid			t = qp.types[i];

		if (t == InvalidOid || t == UNKNOWNOID)
			ereport(ERROR,
					(errcode(ERRCODE_INDETERMINATE_DATATYPE),
					 errmsg("could not determine data type of parameter $%d", i + 1),
					 errhint("Cast it in the query, as $%d::text.", i + 1)));
		prm->ptype = t;
		prm->pflags = PARAM_FLAG_CONST;
		prm->isnull = textnulls[i];
		prm->value = (Datum) 0;
		if (!textnulls[i])
		{
			Oid			input;
			Oid			ioparam;

			getTypeInputInfo(t, &input, &ioparam);
			prm->value = OidInputFunctionCall(input, TextDatumGetCString(texts[i]),
											  ioparam, -1);
		}
	}

	rc = SPI_execute_plan_with_paramlist(plan, paramlist, false, 2);
	if (rc < 0)
		elog(ERROR, "SPI_execute_plan_with_paramlist failed: %s", SPI_result_code_string(rc));
	if (SPI_tuptable == NULL || SPI_tuptable->tupdesc->natts != 1)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("mc_cached query must return one column"),
				 errdetail("It returned %d.", SPI_tuptable ? SPI_tuptable->tupdesc->natts : 0),
				 errhint("Select the one value to cache, as in SELECT to_jsonb(t) FROM t WHERE id = $1.")));
	if (SPI_processed > 1)
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("mc_cached query returned more than one row"),
				 errhint("Make the query return at most one row: one key, one value.")));
	*isnull = true;
	if (SPI_processed == 1)
	{
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Oid			coltype = SPI_gettypeid(desc, 1);
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], desc, 1, isnull);

		if (!*isnull)
		{
			MemoryContext spi = MemoryContextSwitchTo(caller);

			if (coltype == typid)
			{
				int16		typlen;
				bool		typbyval;

				get_typlenbyval(typid, &typlen, &typbyval);
				result = datumCopy(d, typbyval, typlen);
			}
			else
			{
				/* through text, as an assignment would: an error if it cannot */
				Oid			output;
				Oid			input;
				Oid			ioparam;
				bool		varlena;
				char	   *str;

				getTypeOutputInfo(coltype, &output, &varlena);
				str = OidOutputFunctionCall(output, d);
				if (typid == TEXTOID)
					result = CStringGetTextDatum(str);
				else
				{
					getTypeInputInfo(typid, &input, &ioparam);
					result = OidInputFunctionCall(input, str, ioparam, -1);
				}
			}
			MemoryContextSwitchTo(spi);
		}
	}
	SPI_finish();
	return result;
}

/*
 * Under our lease: run the query and fill with its value.  A query that
 * failed, found nothing, or wrote gives the lease back.
 */
static Datum
query_under_lease(memcached_st *mc, const char *key, size_t keylen, uint64_t token,
				  text *query, ArrayType *params, Oid typid, time_t ttl,
				  int32 min_compress_len, int32 compress_level, bool *isnull)
{
	MemoryContext cxt = CurrentMemoryContext;
	uint64		generation = pmc_settings_generation;
	Datum		result;
	PmcOp		refused;
	PmcValue	value;

	PG_TRY();
	{
		result = run_query(query, params, typid, isnull);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		/* the client is the same unless a setting changed */
		if (pmc_settings_generation == generation)
			lease_release(mc, key, keylen, token);
		PG_RE_THROW();
	}
	PG_END_TRY();

	mc = pmc_client_for_key(key, keylen);
	/* the query may have written (a function, RETURNING) */
	refused = fill_refusal();
	if (refused != PMC_NUM_OPS)
		count_refusal(mc, refused, key, keylen);
	if (*isnull || refused != PMC_NUM_OPS)
		lease_release(mc, key, keylen, token);
	else
	{
		encode_fill(result, typid, min_compress_len, compress_level, &value);
		lease_fill(mc, key, keylen, &value, ttl, token);
	}
	return result;
}

/*
 * Are mc_cached's ttl and compression arguments (from argno on) valid?
 * The hit path's check: the same arguments fill_options rejects (NULL is a
 * default, valid), without its calls; fill_options raises the errors.
 */
static inline bool
fill_options_valid(FunctionCallInfo fcinfo, int argno)
{
	if (PG_NARGS() > argno && !PG_ARGISNULL(argno) &&
		PG_GETARG_INT32(argno) < 0)
		return false;
	if (PG_NARGS() > argno + 1 && !PG_ARGISNULL(argno + 1) &&
		PG_GETARG_INT32(argno + 1) < 0)
		return false;
	if (PG_NARGS() > argno + 2 && !PG_ARGISNULL(argno + 2) &&
		(PG_GETARG_INT32(argno + 2) < -1 || PG_GETARG_INT32(argno + 2) > 9))
		return false;
	return true;
}

/*
 * mc_cached after a first read that found no value (what): claim, run the
 * query, fill; or wait for another filler's lease.  Apart from the hit path
 * so that a hit sets up none of this.
 */
static pg_noinline Datum
cached_miss(FunctionCallInfo fcinfo, int qarg, Oid typid, memcached_st *mc,
			const char *key, size_t keylen, LookResult what)
{
	text	   *query;
	ArrayType  *params = NULL;
	time_t		ttl;
	int32		min_compress_len;
	int32		compress_level;
	Datum		result = (Datum) 0;
	bool		isnull;
	PmcOp		refused;
	instr_time	start;
	long		poll = PMC_LEASE_POLL_FIRST_MS;

	/* the query's arguments (already checked valid) */
	fill_options(fcinfo, qarg + 2, &ttl, &min_compress_len, &compress_level);
	query = PG_GETARG_TEXT_PP(qarg);
	if (PG_NARGS() > qarg + 1 && !PG_ARGISNULL(qarg + 1))
		params = PG_GETARG_ARRAYTYPE_P(qarg + 1);

	refused = fill_refusal();
	if (refused != PMC_NUM_OPS)
		count_refusal(mc, refused, key, keylen);
	else
	{
		INSTR_TIME_SET_CURRENT(start);
		while (what != LOOK_OTHER)
		{
			instr_time	now;
			double		left;

			if (what == LOOK_ABSENT)
			{
				bool		failed;
				uint64_t	token = lease_claim(mc, key, keylen, PMC_CACHED_LEASE_TTL, &failed);

				/* the server failed and on_error lets the call go on: no wait */
				if (failed)
					break;
				if (token != 0)
				{
					result = query_under_lease(mc, key, keylen, token, query, params,
											   typid, ttl, min_compress_len,
											   compress_level, &isnull);
					if (isnull)
						PG_RETURN_NULL();
					PG_RETURN_DATUM(result);
				}
			}

			/* another filler's lease (or it claimed the key first): wait */
			INSTR_TIME_SET_CURRENT(now);
			INSTR_TIME_SUBTRACT(now, start);
			left = pmc_lease_wait - INSTR_TIME_GET_MILLISEC(now);
			if (left <= 0)
				break;
			lease_sleep(Min(poll, (long) left + 1));
			poll = Min(poll * 2, PMC_LEASE_POLL_MAX_MS);
			what = look(mc, PMC_NUM_OPS, key, keylen, typid, &result);
			if (what == LOOK_VALUE)
				PG_RETURN_DATUM(result);
		}
	}

	/* no fill: the query's value as it is */
	result = run_query(query, params, typid, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/*
 * mc_cached(key, query, params, ttl, min_compress_len, compress_level)
 * returns text, and mc_cached(key, as_type, query, ...) anyelement:
 * read-through.  A hit is the value; a miss claims the key, runs the
 * query, fills, and returns the value; another filler's lease is waited
 * for, up to pylibmc_pg.lease_wait, then the query runs without filling.
 * A tombstone, or a transaction that may not fill: the query, no fill.
 *
 * A hit does mc_get's work (one get, the same decoding) plus the lease
 * marker test and the options' range checks; the as_type check runs once
 * per call site, and the query's arguments are read only on a miss.
 */
Datum
pylibmc_pg_cached(PG_FUNCTION_ARGS)
{
	bool		typed = (PG_NARGS() == 7);	/* the as_type form */
	int			qarg = typed ? 2 : 1;
	Oid			typid = TEXTOID;
	size_t		keylen;
	char		keybuf[PMC_KEY_BUFSIZE];
	char	   *key;
	memcached_st *mc;
	PmcRawValue raw;
	Datum		result;
	bool		isnull;
	LookResult	what;

	if (typed)
	{
		/* checked when first resolved: fn_extra caches only a valid type */
		if (unlikely(fcinfo->flinfo->fn_extra == NULL))
			pmc_check_value_type(pmc_value_argtype(fcinfo, 1));
		typid = pmc_value_argtype_cached(fcinfo, 1);
	}
	if (PG_ARGISNULL(0) || PG_ARGISNULL(qarg))
		PG_RETURN_NULL();
	key = pmc_key_into(PG_GETARG_TEXT_PP(0), keybuf, &keylen);
	if (unlikely(!fill_options_valid(fcinfo, qarg + 2)))
	{
		time_t		ttl;
		int32		min_compress_len;
		int32		compress_level;

		/* raises the error */
		fill_options(fcinfo, qarg + 2, &ttl, &min_compress_len, &compress_level);
	}
	pmc_forbid_udp("mc_cached");
	mc = pmc_client_for_key(key, keylen);

	/* the first read: look()'s, inline (a lease marker is a pickle) */
	if (!pmc_read_one(mc, PMC_OP_GET, key, keylen, &raw, false))
		what = LOOK_ABSENT;
	else if (unlikely(raw.flags == PMC_FLAG_PICKLE) &&
			 pmc_value_is_lease(raw.data, raw.len, raw.flags))
	{
		pmc_client_release_value();
		what = LOOK_LEASE;
	}
	else
	{
		result = pmc_decode(raw.data ? raw.data : "", raw.len, raw.flags,
							typid, key, keylen, &isnull);
		pmc_client_release_value();
		if (!isnull)
			PG_RETURN_DATUM(result);
		what = LOOK_OTHER;
	}
	return cached_miss(fcinfo, qarg, typid, mc, key, keylen, what);
}
