/*-------------------------------------------------------------------------
 *
 * multi.c
 *	  mc_get_multi, mc_set_multi and mc_delete_multi.
 *
 * mc_get_multi sends one multi-get for all keys (libmemcached pipelines it
 * to each server), reads every reply to the end before it builds a single
 * row, and only then decodes: no reply is ever left unread, and a value
 * that fails to decode cannot interrupt the fetch.  Results are stored in
 * a growing array, and a key we did not ask for is dropped.  A second
 * value for one key (a hostile or confused server) is read and dropped,
 * and makes the call fail as a protocol violation (08P01) once every reply
 * was read: one row per key asked, at most.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"

#include "client.h"
#include "codec.h"
#include "compat.h"
#include "exchange.h"
#include "guard.h"
#include "keys.h"
#include "operations.h"
#include "stats.h"
#include "value.h"

PG_FUNCTION_INFO_V1(pylibmc_pg_get_multi);
PG_FUNCTION_INFO_V1(pylibmc_pg_set_multi_jsonb);
PG_FUNCTION_INFO_V1(pylibmc_pg_set_multi_arrays);
PG_FUNCTION_INFO_V1(pylibmc_pg_delete_multi);

typedef struct KeyList
{
	int			n;
	char	  **keys;			/* prefixed, checked, NUL-terminated */
	size_t	   *lens;
	size_t		prefixlen;
} KeyList;

typedef struct Fetched
{
	int			keyindex;		/* into the sorted KeyList */
	char	   *data;			/* palloc'd copy */
	size_t		len;
	uint32		flags;
} Fetched;

static char *
optional_prefix(FunctionCallInfo fcinfo, int argno, size_t *len)
{
	char	   *prefix;
	text	   *t;

	*len = 0;
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	t = PG_GETARG_TEXT_PP(argno);
	prefix = pmc_server_to_utf8(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), len);
	if (prefix == VARDATA_ANY(t))
		prefix = pnstrdup(prefix, *len);
	return prefix;
}

static int
compare_keys(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * The keys of a text[] with the prefix added, each checked.  NULL elements
 * are an error.  With 'dedup', sorted and without duplicates.
 */
static void
collect_keys(ArrayType *arr, const char *prefix, size_t prefixlen, bool dedup, KeyList *list)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			out = 0;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("keys must be a one-dimensional array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	list->keys = palloc(Max(n, 1) * sizeof(char *));
	list->lens = palloc(Max(n, 1) * sizeof(size_t));
	list->prefixlen = prefixlen;
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("memcached key must not be null"),
					 errdetail("Element %d of the keys array is null.", i + 1)));
		list->keys[i] = pmc_prefixed_key(prefix, prefixlen, DatumGetTextPP(elems[i]), &list->lens[i]);
	}
	list->n = n;
	if (!dedup || n < 2)
		return;
	qsort(list->keys, n, sizeof(char *), compare_keys);
	for (int i = 0; i < n; i++)
	{
		if (out > 0 && strcmp(list->keys[out - 1], list->keys[i]) == 0)
			continue;
		list->keys[out++] = list->keys[i];
	}
	list->n = out;
	for (int i = 0; i < out; i++)
		list->lens[i] = strlen(list->keys[i]);
}

static int
find_key(const KeyList *list, const char *key, size_t keylen)
{
	int			lo = 0,
				hi = list->n - 1;
	char	   *probe = pnstrdup(key, keylen);
	int			found = -1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = strcmp(probe, list->keys[mid]);

		if (c == 0)
		{
			found = mid;
			break;
		}
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	pfree(probe);
	return found;
}

typedef struct FetchState
{
	Fetched    *fetched;
	int			nfetched;
	int			capacity;
	size_t		received;
	bool	   *seen;			/* per key of the KeyList: a value came */
	bool		duplicate;		/* some key got a second value */
} FetchState;

/* Read every reply of a multi-get, copying what we asked for */
static memcached_return_t
fetch_loop(memcached_st *mc, memcached_result_st *result_buf, const KeyList *list,
		   FetchState *state)
{
	memcached_return_t rc;
	memcached_result_st *result;

	while ((result = memcached_fetch_result(mc, result_buf, &rc)) != NULL)
	{
		int			idx = find_key(list, memcached_result_key_value(result),
								   memcached_result_key_length(result));
		size_t		len = memcached_result_length(result);
		Fetched    *f;

		if (idx < 0)
			continue;			/* not a key we asked for */
		if (state->seen[idx])
		{
			state->duplicate = true;	/* read, dropped, reported */
			continue;
		}
		state->seen[idx] = true;
		if (state->nfetched == state->capacity)
		{
			state->capacity *= 2;
			state->fetched = repalloc_huge(state->fetched, state->capacity * sizeof(Fetched));
		}
		f = &state->fetched[state->nfetched++];
		f->keyindex = idx;
		f->len = len;
		f->flags = memcached_result_flags(result);
		f->data = palloc_extended(len + 1, MCXT_ALLOC_HUGE);
		memcpy(f->data, memcached_result_value(result), len);
		state->received += len;
	}
	return rc;
}

/*
 * Largest multi-get request we send at once, in key bytes.  memcached starts
 * replying while it still reads the request; with one request of a hundred
 * thousand keys both sides can block writing until the poll timeout, so
 * long key lists go out in several pipelined requests, each read to the end
 * before the next is sent.
 */
#define PMC_MGET_CHUNK_BYTES	32768

/*
 * After a multi-get was sent: the servers that should have received some
 * of these keys and did not (libmemcached skips a server it cannot
 * connect to and reports success for the others), as "a, b".
 */
static char *
servers_not_asked(memcached_st *mc, const KeyList *list, int first, int n, int *nfailed)
{
	uint32_t	nservers = memcached_server_count(mc);
	bool	   *involved = palloc0(Max(nservers, 1) * sizeof(bool));
	StringInfoData names;

	for (int i = first; i < first + n; i++)
	{
		uint32_t	index = pmc_server_index(mc, list->keys[i], list->lens[i]);

		if (index < nservers)
			involved[index] = true;
	}
	initStringInfo(&names);
	for (uint32_t i = 0; i < nservers; i++)
	{
		const memcached_instance_st *inst;
		char	   *name;

		if (!involved[i])
			continue;
		inst = memcached_server_instance_by_position(mc, i);
		if (inst == NULL || memcached_server_response_count(inst) > 0)
			continue;
		name = pmc_instance_name(inst);
		appendStringInfo(&names, "%s%s", names.len ? ", " : "", name);
		pfree(name);
		(*nfailed)++;
	}
	pfree(involved);
	if (names.len == 0)
	{
		pfree(names.data);
		return NULL;
	}
	return names.data;
}

/* Is a reply pending from some server (a multi-get went out to it)? */
static bool
any_server_asked(memcached_st *mc)
{
	uint32_t	nservers = memcached_server_count(mc);

	for (uint32_t i = 0; i < nservers; i++)
	{
		const memcached_instance_st *inst = memcached_server_instance_by_position(mc, i);

		if (inst != NULL && memcached_server_response_count(inst) > 0)
			return true;
	}
	return false;
}

typedef struct FetchArgs
{
	const KeyList *list;
	FetchState *state;
	PmcExchange *x;
} FetchArgs;

/*
 * Send keys [first, first + n) as one multi-get and read every reply.
 * libmemcached's fetch reports some failures as the end of the replies: a
 * failure it recorded during the request (memcached_last_error) is one.
 */
static memcached_return_t
fetch_chunk(memcached_st *mc, FetchArgs *a, int first, int n)
{
	memcached_return_t rc;
	memcached_return_t mget_rc;
	char	   *not_asked;
	volatile int nnot_asked = 0;

	/*
	 * The binary multi-get returns the last connect failure even when it
	 * sent the other servers their keys: read what was asked either way.
	 */
	mget_rc = memcached_mget(mc, (const char *const *) a->list->keys + first, a->list->lens + first, n);
	{
		int			nfailed = 0;

		not_asked = servers_not_asked(mc, a->list, first, n, &nfailed);
		nnot_asked = nfailed;
	}
	if (mget_rc != MEMCACHED_SUCCESS && !any_server_asked(mc))
	{
		if (not_asked != NULL)
		{
			a->x->failed_servers = not_asked;
			a->x->nfailed_servers = nnot_asked;
		}
		return mget_rc;
	}

	/* the client's kept buffer: nothing is malloc'd, nothing leaks on an ERROR */
	rc = fetch_loop(mc, pmc_client_result(), a->list, a->state);

	if (rc == MEMCACHED_END || rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTFOUND)
	{
		rc = pmc_fetch_failure(mc);
		/* every reply was read: the connection is in step, the server is not */
		if (rc == MEMCACHED_SUCCESS && a->state->duplicate)
			rc = MEMCACHED_PROTOCOL_ERROR;
	}
	if (not_asked != NULL)
	{
		a->x->failed_servers = not_asked;
		a->x->nfailed_servers = nnot_asked;
		if (rc == MEMCACHED_SUCCESS)
			rc = mget_rc != MEMCACHED_SUCCESS ? mget_rc
				: memcached_last_error(mc) != MEMCACHED_SUCCESS ? memcached_last_error(mc)
				: MEMCACHED_CONNECTION_FAILURE;
	}
	return rc;
}

/*
 * A multi-get of every key, in as few requests as PMC_MGET_CHUNK_BYTES
 * allows, each read to the end; a chunk that failed does not stop the
 * others (on_error decides what the failure does once all were read).
 */
static memcached_return_t
fetch_chunks(memcached_st *mc, void *arg)
{
	FetchArgs  *a = (FetchArgs *) arg;
	memcached_return_t first_failure = MEMCACHED_SUCCESS;
	int			first = 0;

	/* from scratch: the exchange may run this twice (see retry_safe) */
	for (int i = 0; i < a->state->nfetched; i++)
		pfree(a->state->fetched[i].data);
	a->state->nfetched = 0;
	a->state->received = 0;
	memset(a->state->seen, 0, Max(a->list->n, 1) * sizeof(bool));
	a->state->duplicate = false;
	a->x->sent = 0;
	a->x->failed_servers = NULL;
	a->x->nfailed_servers = 0;

	while (first < a->list->n)
	{
		size_t		bytes = 0;
		int			n = 0;
		memcached_return_t rc;

		while (first + n < a->list->n &&
			   (n == 0 || bytes + a->list->lens[first + n] < PMC_MGET_CHUNK_BYTES))
			bytes += a->list->lens[first + n++] + 1;
		rc = fetch_chunk(mc, a, first, n);
		if (rc != MEMCACHED_SUCCESS && first_failure == MEMCACHED_SUCCESS)
			first_failure = rc;
		a->x->sent += bytes;
		first += n;
		/* cancelled: the other chunks would be given up too */
		if (pmc_guard_interrupted())
		{
			if (first_failure == MEMCACHED_SUCCESS)
				first_failure = MEMCACHED_TIMEOUT;
			break;
		}
	}
	a->x->received = a->state->received;
	if (first_failure == MEMCACHED_SUCCESS)
		a->x->outcome = a->state->nfetched > 0 ? PMC_HIT : PMC_MISS;
	return first_failure;
}

/*
 * A multi-get of every key.  Returns the replies in *fetched: all of them,
 * or (a server failed and on_error let it through) those that came.
 */
static int
fetch_all(memcached_st *mc, const KeyList *list, Fetched **fetched)
{
	FetchState	state;
	FetchArgs	a;
	PmcExchange x;

	state.capacity = 16;
	state.nfetched = 0;
	state.received = 0;
	state.fetched = palloc(state.capacity * sizeof(Fetched));
	state.seen = palloc0(Max(list->n, 1) * sizeof(bool));
	state.duplicate = false;
	*fetched = state.fetched;
	if (list->n == 0)
		return 0;
	a.list = list;
	a.state = &state;
	a.x = &x;
	pmc_exchange_init(&x, mc, PMC_OP_GET_MULTI, "get several keys", NULL, 0);
	x.retry_safe = true;
	pmc_exchange(&x, fetch_chunks, &a);
	*fetched = state.fetched;
	return state.nfetched;
}

/*
 * mc_get_multi(keys text[], key_prefix text) and
 * mc_get_multi(keys text[], as_type anyelement, key_prefix text):
 * rows (key, value) for the keys found, keys without the prefix.
 */
Datum
pylibmc_pg_get_multi(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		typed = (PG_NARGS() == 3);
	Oid			typid = typed ? pmc_value_argtype(fcinfo, 1) : TEXTOID;
	size_t		prefixlen;
	char	   *prefix = optional_prefix(fcinfo, typed ? 2 : 1, &prefixlen);
	KeyList		list;
	Fetched    *fetched;
	int			nfetched;
	memcached_st *mc;

	pmc_init_materialized_srf(fcinfo);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	collect_keys(PG_GETARG_ARRAYTYPE_P(0), prefix, prefixlen, true, &list);
	pmc_forbid_udp("mc_get_multi");
	mc = pmc_client();
	nfetched = fetch_all(mc, &list, &fetched);

	for (int i = 0; i < nfetched; i++)
	{
		const char *key = list.keys[fetched[i].keyindex];
		Datum		values[2];
		bool		nulls[2] = {false, false};
		char	   *outkey;

		values[1] = pmc_decode(fetched[i].data, fetched[i].len, fetched[i].flags,
							   typid, key, list.lens[fetched[i].keyindex], &nulls[1]);
		if (nulls[1])
			continue;			/* undecodable: a miss */
		outkey = pg_any_to_server(key + prefixlen, list.lens[fetched[i].keyindex] - prefixlen, PG_UTF8);
		values[0] = CStringGetTextDatum(outkey);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		pfree(fetched[i].data);
	}
	return (Datum) 0;
}

/* ---------- set_multi ---------- */

/*
 * mc_set_multi checks and encodes every key and value first, and sends
 * only then: a bad key or value never leaves the keys before it written.
 */
typedef struct PendingSet
{
	text	   *key_text;		/* as given, for the failed-keys result */
	char	   *key;			/* prefixed, checked */
	size_t		keylen;
	PmcValue	value;
} PendingSet;

typedef struct SetMultiArgs
{
	time_t		ttl;
	char	   *prefix;
	size_t		prefixlen;
	int32		min_compress_len;
	int32		compress_level;
	PendingSet *pending;
	int			npending;
	int			capacity;
} SetMultiArgs;

static void
set_multi_args(FunctionCallInfo fcinfo, int first, SetMultiArgs *args)
{
	args->ttl = pmc_check_ttl(PG_ARGISNULL(first) ? 0 : PG_GETARG_INT32(first));
	args->prefix = optional_prefix(fcinfo, first + 1, &args->prefixlen);
	args->min_compress_len = PG_ARGISNULL(first + 2) ? 0 : PG_GETARG_INT32(first + 2);
	args->compress_level = PG_ARGISNULL(first + 3) ? -1 : PG_GETARG_INT32(first + 3);
	pmc_check_compression(args->min_compress_len, args->compress_level);
	args->npending = 0;
	args->capacity = 16;
	args->pending = palloc(args->capacity * sizeof(PendingSet));
}

/* Check and encode one pair; nothing is sent yet */
static void
set_one(SetMultiArgs *args, text *key_text, Datum value, Oid typid)
{
	PendingSet *p;

	if (args->npending == args->capacity)
	{
		args->capacity *= 2;
		args->pending = repalloc_huge(args->pending, args->capacity * sizeof(PendingSet));
	}
	p = &args->pending[args->npending];
	p->key_text = key_text;
	p->key = pmc_prefixed_key(args->prefix, args->prefixlen, key_text, &p->keylen);
	pmc_encode(value, typid, &p->value);
	pmc_compress(&p->value, args->min_compress_len, args->compress_level);
	if (pmc_client_is_udp() && p->keylen + p->value.len > PMC_MAX_UDP_VALUE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("value for key \"%s\" is too large for UDP", p->key),
				 errdetail("The key and value are %zu bytes; over UDP at most %d can be sent.",
						   p->keylen + p->value.len, PMC_MAX_UDP_VALUE),
				 errhint("Use TCP or UNIX-socket servers for large values.")));
	args->npending++;
}

/*
 * Send every checked pair.  A server that failed is not asked again in
 * this call; a pending cancel ends the call between two keys.  Returns
 * the keys not stored, without the prefix.
 */
static Datum
send_all(SetMultiArgs *args)
{
	ArrayBuildState *failed = initArrayResult(TEXTOID, CurrentMemoryContext, false);
	memcached_st *mc = pmc_client();

	pmc_call_begin(mc);
	for (int i = 0; i < args->npending; i++)
	{
		PendingSet *p = &args->pending[i];

		if (pmc_store(mc, PMC_OP_SET, p->key, p->keylen, &p->value, args->ttl, 0) != PMC_HIT)
			accumArrayResult(failed, PointerGetDatum(p->key_text), false, TEXTOID,
							 CurrentMemoryContext);
	}
	pmc_call_end();
	return makeArrayResult(failed, CurrentMemoryContext);
}

/*
 * A JSON value stored by its JSON type: string as text, integer (in
 * bigint's range) as bigint, true/false as boolean, anything else (other
 * numbers, null, objects, arrays) as jsonb.
 */
static void
set_json_value(SetMultiArgs *args, text *key, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			set_one(args, key, PointerGetDatum(cstring_to_text_with_len(v->val.string.val, v->val.string.len)),
					TEXTOID);
			return;
		case jbvBool:
			set_one(args, key, BoolGetDatum(v->val.boolean), BOOLOID);
			return;
		case jbvNumeric:
			{
				char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
				const char *digits = (*s == '-') ? s + 1 : s;
				bool		integral = pmc_all_digits(digits, strlen(digits));
				int64		i64;
				char	   *end;

				errno = 0;
				i64 = strtoll(s, &end, 10);
				if (integral && errno == 0 && *end == '\0')
				{
					set_one(args, key, Int64GetDatum(i64), INT8OID);
					return;
				}
				break;
			}
		default:
			break;
	}
	set_one(args, key, JsonbPGetDatum(JsonbValueToJsonb(v)), JSONBOID);
}

/* mc_set_multi(mapping jsonb, ttl, key_prefix, min_compress_len, compress_level) */
Datum
pylibmc_pg_set_multi_jsonb(PG_FUNCTION_ARGS)
{
	Jsonb	   *mapping;
	SetMultiArgs args;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	text	   *key = NULL;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	mapping = PG_GETARG_JSONB_P(0);

	if (!JB_ROOT_IS_OBJECT(mapping))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mapping must be a JSON object"),
				 errhint("Pass key-value pairs, as jsonb_build_object('k1', 'v1', 'k2', 2).")));
	set_multi_args(fcinfo, 1, &args);

	it = JsonbIteratorInit(&mapping->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			key = cstring_to_text_with_len(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE)
			set_json_value(&args, key, &v);
	}
	PG_RETURN_DATUM(send_all(&args));
}

/* mc_set_multi(keys text[], values anyarray, ttl, key_prefix, ...) */
Datum
pylibmc_pg_set_multi_arrays(PG_FUNCTION_ARGS)
{
	ArrayType  *keys;
	ArrayType  *vals;
	Oid			elemtype;
	SetMultiArgs args;
	Datum	   *kd,
			   *vd;
	bool	   *kn,
			   *vn;
	int			nk,
				nv;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	keys = PG_GETARG_ARRAYTYPE_P(0);
	vals = PG_GETARG_ARRAYTYPE_P(1);
	elemtype = ARR_ELEMTYPE(vals);
	pmc_check_value_type(elemtype);
	deconstruct_array(keys, TEXTOID, -1, false, TYPALIGN_INT, &kd, &kn, &nk);
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(vals, elemtype, typlen, typbyval, typalign, &vd, &vn, &nv);
	if (nk != nv)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("keys and values must have the same number of elements"),
				 errdetail("There are %d keys and %d values.", nk, nv)));
	for (int i = 0; i < nk; i++)
		if (kn[i] || vn[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("keys and values must not be null"),
					 errdetail("Element %d is null.", i + 1)));
	set_multi_args(fcinfo, 2, &args);
	for (int i = 0; i < nk; i++)
		set_one(&args, DatumGetTextPP(kd[i]), vd[i], elemtype);
	PG_RETURN_DATUM(send_all(&args));
}

/*
 * mc_delete_multi(keys text[], ttl, key_prefix): true only if every key
 * existed; the present ones are deleted either way.
 */
Datum
pylibmc_pg_delete_multi(PG_FUNCTION_ARGS)
{
	time_t		ttl;
	size_t		prefixlen;
	char	   *prefix;
	KeyList		list;
	memcached_st *mc;
	bool		all = true;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	ttl = pmc_check_ttl(PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1));
	prefix = optional_prefix(fcinfo, 2, &prefixlen);

	collect_keys(PG_GETARG_ARRAYTYPE_P(0), prefix, prefixlen, false, &list);
	if (ttl > 0)
		pmc_forbid_udp("mc_delete_multi with a ttl");
	mc = pmc_client();
	pmc_call_begin(mc);
	for (int i = 0; i < list.n; i++)
		if (pmc_delete_key(mc, list.keys[i], list.lens[i], ttl) != PMC_HIT)
			all = false;
	pmc_call_end();
	PG_RETURN_BOOL(all);
}
