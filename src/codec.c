/*-------------------------------------------------------------------------
 *
 * codec.c
 *	  SQL values to memcached values and back, with pylibmc 1.6's flags.
 *
 *	  SQL type			flags		bytes
 *	  bytea				0			as is
 *	  text				16			UTF-8
 *	  bigint/int/small	4			decimal ASCII
 *	  boolean			2			"1" / "0"
 *	  jsonb				16 + 32		the JSON text, UTF-8
 *	  compressed		+ 8			a zlib stream of the above
 *
 * Reading: flags 2 and 4 are integers, 16 text (with 32, JSON), 0 bytes;
 * a pickle (1), a combination nobody writes, a corrupt zlib stream or
 * flags-16 text that is not UTF-8 is undecodable, which reads as a miss
 * (pylibmc's CacheMiss); mc_get_raw() still shows it.  Flags-0 bytes (what
 * PHP, Go, Node.js and pgmemcache write for strings) read as text are
 * UTF-8 converted to the database encoding, or ERROR 22021 with a hint to
 * read them as bytea.  A value read as a type other
 * than its own goes through its text form and that type's input function
 * (bytea reads the bytes of any value), so a value that is not valid for
 * the asked type is that type's own clear ERROR.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "codec.h"
#include "compat.h"
#include "keys.h"
#include "value.h"

static void *
palloc_huge(size_t size)
{
	return palloc_extended(size, MCXT_ALLOC_HUGE);
}

Oid
pmc_value_argtype(FunctionCallInfo fcinfo, int argno)
{
	Oid			typid = get_fn_expr_argtype(fcinfo->flinfo, argno);

	if (!OidIsValid(typid))
		ereport(ERROR,
				(errcode(ERRCODE_INDETERMINATE_DATATYPE),
				 errmsg("could not determine the type of the value")));
	return typid;
}

/*
 * pmc_value_argtype(), looked up once per call site: the type of an
 * argument is fixed by the call's expression, so it is kept in fn_extra.
 * Only for functions that use fn_extra for nothing else (not the
 * set-returning ones).
 */
Oid
pmc_value_argtype_cached(FunctionCallInfo fcinfo, int argno)
{
	Oid		   *cached = (Oid *) fcinfo->flinfo->fn_extra;

	if (likely(cached != NULL))
		return *cached;
	cached = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(Oid));
	*cached = pmc_value_argtype(fcinfo, argno);
	fcinfo->flinfo->fn_extra = cached;
	return *cached;
}

void
pmc_check_value_type(Oid typid)
{
	switch (typid)
	{
		case BYTEAOID:
		case TEXTOID:
		case VARCHAROID:
		case INT8OID:
		case INT4OID:
		case INT2OID:
		case BOOLOID:
		case JSONBOID:
			return;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("cannot store a value of type %s in memcached", format_type_be(typid)),
					 errhint("Cast the value to text, bytea, jsonb, bigint or boolean.")));
	}
}

/* Server-encoding text to UTF-8, as pylibmc encodes a str */
static void
encode_utf8(const char *s, int len, PmcValue *out)
{
	out->data = pmc_server_to_utf8(s, len, &out->len);
}

/*
 * Encode a datum of one of the storable types.  The bytes may point into
 * the (detoasted) datum; they are valid for the current memory context.
 */
void
pmc_encode(Datum value, Oid typid, PmcValue *out)
{
	switch (typid)
	{
		case BYTEAOID:
			{
				bytea	   *b = DatumGetByteaPP(value);

				out->data = VARDATA_ANY(b);
				out->len = VARSIZE_ANY_EXHDR(b);
				out->flags = PMC_FLAG_NONE;
				return;
			}
		case TEXTOID:
		case VARCHAROID:
			{
				text	   *t = DatumGetTextPP(value);

				encode_utf8(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), out);
				out->flags = PMC_FLAG_TEXT;
				return;
			}
		case INT8OID:
		case INT4OID:
		case INT2OID:
			{
				int64		v = (typid == INT8OID) ? DatumGetInt64(value)
				: (typid == INT4OID) ? DatumGetInt32(value) : DatumGetInt16(value);

				out->data = palloc(MAXINT8LEN + 1);
				out->len = pmc_lltoa(v, out->data);
				out->flags = PMC_FLAG_LONG;
				return;
			}
		case BOOLOID:
			out->data = DatumGetBool(value) ? "1" : "0";
			out->len = 1;
			out->flags = PMC_FLAG_INTEGER;
			return;
		case JSONBOID:
			{
				Jsonb	   *jb = DatumGetJsonbP(value);
				char	   *json = JsonbToCString(NULL, &jb->root, VARSIZE(jb));

				encode_utf8(json, strlen(json), out);
				out->flags = PMC_FLAG_TEXT | PMC_FLAG_JSON;
				return;
			}
		default:
			pmc_check_value_type(typid);	/* raises */
	}
}

void
pmc_check_compression(int32 min_compress_len, int32 compress_level)
{
	if (min_compress_len < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_compress_len must not be negative"),
				 errhint("Use 0 to never compress.")));
	if (compress_level < -1 || compress_level > 9)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("compress_level must be between -1 and 9"),
				 errhint("-1 is zlib's default (6), 0 turns compression off, 1 is fastest, 9 smallest.")));
}

/*
 * Compression state (value.c's libdeflate compressor and decompressor, and
 * the zlib stream that measures large values) lives in a memory context of
 * its own under TopMemoryContext, for the backend's life, so that it shows
 * in pg_backend_memory_contexts as "pylibmc_pg compression".  The
 * allocator returns NULL rather than throwing: libdeflate and zlib call it
 * and report the failure, which the callers turn into an ERROR (inflate) or
 * an uncompressed store (deflate, as pylibmc does).
 */
static MemoryContext compression_context = NULL;

static void *
compression_alloc(size_t size)
{
	return MemoryContextAllocExtended(compression_context, size,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
}

static void
compression_free(void *ptr)
{
	pfree(ptr);
}

static void
compression_interrupt(void)
{
	CHECK_FOR_INTERRUPTS();
}

static void
compression_setup(void)
{
	if (compression_context != NULL)
		return;
	compression_context = AllocSetContextCreate(TopMemoryContext,
												"pylibmc_pg compression",
												ALLOCSET_DEFAULT_SIZES);
	pmc_value_set_allocator(compression_alloc, compression_free,
							compression_interrupt);
}

/*
 * Compress as pylibmc does: only when min_compress_len > 0, the level is
 * not 0 and the encoded value is at least min_compress_len bytes; keep
 * the result only if it is strictly smaller (libdeflate is given one byte
 * less than the value as room, and gives up when the stream would not fit).
 * A failure stores the value uncompressed, as pylibmc does.  -1 is zlib's
 * default level, 6; libdeflate's levels 1..9 match zlib's in intent.
 */
void
pmc_compress(PmcValue *value, int32 min_compress_len, int32 compress_level)
{
	char	   *dest;
	size_t		clen;

	pmc_check_compression(min_compress_len, compress_level);
	if (compress_level == 0 || min_compress_len == 0 ||
		value->len < (size_t) min_compress_len || value->len < 2)
		return;

	compression_setup();
	dest = palloc_huge(value->len - 1);
	clen = pmc_deflate(value->data, value->len,
					   compress_level == -1 ? 6 : compress_level,
					   dest, value->len - 1);
	if (clen > 0 && clen < value->len)
	{
		value->data = dest;
		value->len = clen;
		value->flags |= PMC_FLAG_ZLIB;
	}
	else
		pfree(dest);
}

/* ---------- decoding ---------- */

typedef struct DecodeContext
{
	const char *key;
	Oid			typid;
} DecodeContext;

static void
decode_error_callback(void *arg)
{
	DecodeContext *ctx = (DecodeContext *) arg;

	errcontext("reading the cached value of key \"%s\" as type %s",
			   ctx->key, format_type_be(ctx->typid));
}

/* Run typid's input function on str, naming the key if it fails */
static Datum
value_from_text_form(const char *str, Oid typid, const char *key)
{
	ErrorContextCallback errcallback;
	DecodeContext ctx;
	Oid			typinput;
	Oid			typioparam;
	Datum		result;

	ctx.key = key;
	ctx.typid = typid;
	errcallback.callback = decode_error_callback;
	errcallback.arg = &ctx;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	getTypeInputInfo(typid, &typinput, &typioparam);
	result = OidInputFunctionCall(typinput, unconstify(char *, str), typioparam, -1);

	error_context_stack = errcallback.previous;
	return result;
}

/* pylibmc's int() normal form: no blanks, no '+', no leading zeros */
static char *
normal_integer(const char *digits, size_t n)
{
	bool		negative = false;
	char	   *result;

	if (*digits == '+' || *digits == '-')
	{
		negative = (*digits == '-');
		digits++;
		n--;
	}
	while (n > 1 && *digits == '0')
	{
		digits++;
		n--;
	}
	if (n == 1 && *digits == '0')
		negative = false;
	result = palloc(n + 2);
	sprintf(result, "%s%.*s", negative ? "-" : "", (int) n, digits);
	return result;
}

static Datum
miss(bool *isnull, const char *key, const char *why)
{
	ereport(DEBUG1,
			(errmsg_internal("cached value of key \"%s\" read as a miss: %s", key, why)));
	*isnull = true;
	return (Datum) 0;
}

/*
 * A value read from a server must fit in a datum: memcached may store up to
 * 1 GB (-I 1024m), a varlena holds at most MaxAllocSize - VARHDRSZ bytes.
 */
void
pmc_check_datum_size(size_t len, const char *key)
{
	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("cached value of key \"%s\" is too large for PostgreSQL", key),
				 errdetail("The value is %zu bytes; a PostgreSQL value holds at most %zu.",
						   len, (size_t) (MaxAllocSize - VARHDRSZ))));
}

/*
 * The bytes as a varlena (bytea or text): in place when they are an
 * inflated value (the block has a header's room before them), else a copy.
 */
static struct varlena *
bytes_varlena(char *inflated, const char *data, size_t len)
{
	struct varlena *v;

	if (inflated != NULL && data == inflated + VARHDRSZ)
		v = (struct varlena *) inflated;
	else
	{
		v = (struct varlena *) palloc_huge(len + VARHDRSZ);
		memcpy(VARDATA(v), data, len);
	}
	SET_VARSIZE(v, len + VARHDRSZ);
	return v;
}

/*
 * Decode a value read from memcached into a datum of type typid (TEXTOID
 * for "its text form").  *isnull is set for an undecodable value.  The
 * key (NUL-terminated) is only used in messages.
 */
Datum
pmc_decode(const char *data, size_t len, uint32 flags, Oid typid,
		   const char *key, size_t keylen, bool *isnull)
{
	PmcKind		kind = pmc_value_kind(flags);
	char	   *textform;
	char	   *inflated = NULL;	/* the inflated value, VARHDRSZ in */

	*isnull = false;
	if (kind == PMC_KIND_UNDECODABLE)
		return miss(isnull, key, psprintf("flags %u", flags));
	if (!(flags & PMC_FLAG_ZLIB))
		pmc_check_datum_size(len, key);	/* inflated ones are bounded below */

	if (flags & PMC_FLAG_ZLIB)
	{
		size_t		inflated_len;

		/* inflated after a varlena header's room, to be returned in place */
		compression_setup();
		switch (pmc_inflate(data, len, PMC_MAX_INFLATED, VARHDRSZ, palloc_huge, pfree,
							&inflated, &inflated_len))
		{
			case PMC_INFLATE_OK:
				break;
			case PMC_INFLATE_TOO_BIG:
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("cached value of key \"%s\" inflates to more than %zu bytes",
								key, PMC_MAX_INFLATED)));
				break;
			case PMC_INFLATE_NO_MEMORY:
				ereport(ERROR,
						(errcode(ERRCODE_OUT_OF_MEMORY),
						 errmsg("out of memory"),
						 errdetail("Could not inflate the cached value of key \"%s\".", key)));
				break;
			case PMC_INFLATE_CORRUPT:
				return miss(isnull, key, "corrupt zlib data");
		}
		data = inflated + VARHDRSZ;
		len = inflated_len;
	}

	if (typid == BYTEAOID)
		return PointerGetDatum(bytes_varlena(inflated, data, len));

	switch (kind)
	{
		case PMC_KIND_BYTES:
			/*
			 * Flags 0: what PHP, Go, Node.js and pgmemcache write for a
			 * string, and pylibmc for bytes.  Read as text, the bytes are
			 * UTF-8 text or an error (not a miss: the value is there, the
			 * caller asked for the wrong type).
			 */
			if (!pg_verify_mbstr(PG_UTF8, data, (int) len, true))
				ereport(ERROR,
						(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
						 errmsg("cached value of key \"%s\" is not valid UTF-8 text", key),
						 errdetail("The value was stored as raw bytes (flags 0), as other clients store strings, and its bytes are not UTF-8 text."),
						 errhint("Read it as bytea: mc_get(key, NULL::bytea).")));
			/* FALLTHROUGH */
		case PMC_KIND_TEXT:
		case PMC_KIND_JSON:
			/* PostgreSQL's checker: no NUL, no surrogates, fast on ASCII */
			if (kind != PMC_KIND_BYTES && !pg_verify_mbstr(PG_UTF8, data, (int) len, true))
				return miss(isnull, key, "text that is not valid UTF-8");
			/* in a UTF-8 database that check was the conversion */
			textform = (GetDatabaseEncoding() == PG_UTF8) ? unconstify(char *, data)
				: pg_any_to_server(data, len, PG_UTF8);
			if (typid == TEXTOID)
			{
				if (textform == data)
					return PointerGetDatum(bytes_varlena(inflated, data, len));
				return PointerGetDatum(cstring_to_text(textform));
			}
			if (textform == data)
				textform = pnstrdup(data, len);
			break;
		case PMC_KIND_INTEGER:
			{
				const char *digits;
				size_t		ndigits;

				if (!pmc_integer_text(data, len, &digits, &ndigits))
					return miss(isnull, key, "an integer flag on a value that is not an integer");
				textform = normal_integer(digits, ndigits);
				break;
			}
		default:
			return miss(isnull, key, "unknown kind");
	}

	if (typid == TEXTOID)
		return PointerGetDatum(cstring_to_text(textform));
	return value_from_text_form(textform, typid, key);
}
