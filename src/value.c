/*-------------------------------------------------------------------------
 *
 * value.c
 *	  Classify, inflate and check the bytes of a cached value.
 *
 * Everything a server sends is untrusted: a flags word nobody writes, a
 * "zlib" payload that is not one or that inflates to gigabytes, an
 * "integer" that is not a number.  These functions say which, without
 * allocating more than the caller's limit.
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <string.h>
#include <zlib.h>

#include "value.h"

/*
 * What a flags word holds, read as pylibmc 1.6 reads it: the ZLIB bit is a
 * modifier (handled by the caller), bits outside PMC_FLAG_TYPES are
 * ignored, except our JSON bit on text.
 */
PmcKind
pmc_value_kind(uint32_t flags)
{
	switch (flags & PMC_FLAG_TYPES)
	{
		case PMC_FLAG_NONE:
			return PMC_KIND_BYTES;
		case PMC_FLAG_TEXT:
			return (flags & PMC_FLAG_JSON) ? PMC_KIND_JSON : PMC_KIND_TEXT;
		case PMC_FLAG_INTEGER:
		case PMC_FLAG_LONG:
			return PMC_KIND_INTEGER;
		default:
			return PMC_KIND_UNDECODABLE;
	}
}

/*
 * One inflate stream for the process, reset for each value: inflateInit
 * allocates its state, and inflate its 32 kB window, on every call
 * otherwise.
 */
static z_stream inflater;
static bool inflater_ready = false;

static bool
inflater_start(void)
{
	if (inflater_ready)
		return inflateReset(&inflater) == Z_OK;
	memset(&inflater, 0, sizeof(inflater));
	if (inflateInit(&inflater) != Z_OK)
		return false;
	inflater_ready = true;
	return true;
}

/*
 * Values that inflate to at most this much are inflated once, here, and
 * copied out at their exact size; larger ones are measured first and
 * inflated again into their block.  A static buffer: its pages are touched
 * once and reused (fresh blocks at each call cost more in page faults than
 * the copy), and a zlib bomb is measured, never allocated.
 */
#ifndef PMC_INFLATE_SCRATCH
#define PMC_INFLATE_SCRATCH		(256 * 1024)	/* test/fuzz builds it smaller */
#endif
static char scratch[PMC_INFLATE_SCRATCH];

/*
 * Continue the stream into dest[0, cap) (positions count from the stream's
 * start), or, with dest NULL, only count its output.  Returns when the
 * stream ends (*ended), when dest is full below 'limit' (not *ended), or
 * on a failure; output beyond 'limit' is PMC_INFLATE_TOO_BIG.
 */
static PmcInflateResult
inflate_run(char *dest, size_t cap, size_t limit, bool *ended)
{
	unsigned char sink[16384];
	unsigned char probe;
	int			zrc;

	*ended = false;
	for (;;)
	{
		size_t		total = inflater.total_out;

		if (dest == NULL)
		{
			inflater.next_out = sink;
			inflater.avail_out = sizeof(sink);
		}
		else if (total < cap)
		{
			size_t		room = cap - total;

			inflater.next_out = (unsigned char *) dest + total;
			inflater.avail_out = (uInt) (room > 0x40000000 ? 0x40000000 : room);
		}
		else if (cap < limit)
			return PMC_INFLATE_OK;	/* full; the stream may go on */
		else
		{
			/* full at the limit: one more byte of output is too many */
			inflater.next_out = &probe;
			inflater.avail_out = 1;
		}
		zrc = inflate(&inflater, Z_NO_FLUSH);
		if (inflater.total_out > limit)
			return PMC_INFLATE_TOO_BIG;
		if (zrc == Z_STREAM_END)
		{
			*ended = true;
			return PMC_INFLATE_OK;
		}
		if (zrc != Z_OK)
		{
			/* Z_BUF_ERROR here means the input ended before the stream */
			return (zrc == Z_MEM_ERROR) ? PMC_INFLATE_NO_MEMORY : PMC_INFLATE_CORRUPT;
		}
	}
}

static bool
inflate_begin(const char *in, size_t inlen)
{
	if (!inflater_start())
		return false;
	inflater.next_in = (unsigned char *) in;
	inflater.avail_in = (uInt) inlen;
	return true;
}

/*
 * Inflate a zlib (RFC 1950) stream, as pylibmc's inflateInit does.  Bytes
 * after the end of the stream are ignored, as zlib and pylibmc do (an
 * append to a compressed item leaves some).  Never more than 'limit' bytes
 * of output, and never an allocation beyond them.
 *
 * On success *out is one block from 'alloc': 'headroom' bytes left for the
 * caller (a varlena header), then the *outlen inflated bytes, then a NUL.
 * On failure *out is NULL and nothing is left allocated.
 */
PmcInflateResult
pmc_inflate(const char *in, size_t inlen, size_t limit, size_t headroom,
			pmc_alloc_fn alloc, pmc_free_fn dealloc, char **out, size_t *outlen)
{
	PmcInflateResult rc;
	bool		ended;
	size_t		size;
	char	   *buf;

	*out = NULL;
	*outlen = 0;
	if (inlen > 0x7fffffff)
		return PMC_INFLATE_TOO_BIG;
	if (!inflate_begin(in, inlen))
		return PMC_INFLATE_NO_MEMORY;
	rc = inflate_run(scratch, limit < sizeof(scratch) ? limit : sizeof(scratch), limit, &ended);
	if (rc == PMC_INFLATE_OK && !ended)
		rc = inflate_run(NULL, 0, limit, &ended);	/* larger: measure */
	if (rc != PMC_INFLATE_OK)
		return rc;
	size = inflater.total_out;

	buf = alloc(headroom + size + 1);
	if (buf == NULL)
		return PMC_INFLATE_NO_MEMORY;
	if (size <= sizeof(scratch))
		memcpy(buf + headroom, scratch, size);
	else
	{
		/* the second pass, into the block, with the size as the limit */
		rc = inflate_begin(in, inlen) ? inflate_run(buf + headroom, size, size, &ended)
			: PMC_INFLATE_NO_MEMORY;
		if (rc == PMC_INFLATE_OK && !ended)
			rc = PMC_INFLATE_CORRUPT;	/* cannot happen: the stream is the same */
		if (rc != PMC_INFLATE_OK)
		{
			dealloc(buf);
			return rc;
		}
	}
	buf[headroom + size] = '\0';
	*out = buf;
	*outlen = size;
	return PMC_INFLATE_OK;
}

/*
 * Is this an integer as pylibmc's int() accepts it: surrounding blanks, an
 * optional sign, decimal digits?  (A decr may leave trailing spaces.)
 * On success, point at the sign-and-digits part.
 */
bool
pmc_integer_text(const char *data, size_t len, const char **digits, size_t *ndigits)
{
	size_t		start = 0;
	size_t		end = len;
	size_t		i;

	while (start < end && isspace((unsigned char) data[start]))
		start++;
	while (end > start && isspace((unsigned char) data[end - 1]))
		end--;
	i = start;
	if (i < end && (data[i] == '-' || data[i] == '+'))
		i++;
	if (i == end)
		return false;
	for (; i < end; i++)
		if (data[i] < '0' || data[i] > '9')
			return false;
	*digits = data + start;
	*ndigits = end - start;
	return true;
}
