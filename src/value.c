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
 * Run a zlib stream through inflate.  With out == NULL only count the
 * inflated size; stop as soon as it passes 'limit'.
 */
static PmcInflateResult
inflate_pass(const char *in, size_t inlen, size_t limit, char *out, size_t *total)
{
	z_stream	zs;
	unsigned char scratch[16384];
	int			zrc;
	PmcInflateResult result = PMC_INFLATE_OK;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit(&zs) != Z_OK)
		return PMC_INFLATE_NO_MEMORY;
	zs.next_in = (unsigned char *) in;
	zs.avail_in = (uInt) inlen;
	*total = 0;

	do
	{
		if (out)
		{
			size_t		room = limit - *total;

			zs.next_out = (unsigned char *) out + *total;
			zs.avail_out = (uInt) (room > 0x40000000 ? 0x40000000 : room);
			if (room == 0)
			{
				/* full: one more byte would mean the first pass lied */
				zs.next_out = scratch;
				zs.avail_out = 1;
			}
		}
		else
		{
			zs.next_out = scratch;
			zs.avail_out = sizeof(scratch);
		}
		zrc = inflate(&zs, Z_NO_FLUSH);
		*total = zs.total_out;
		if (*total > limit)
		{
			result = PMC_INFLATE_TOO_BIG;
			break;
		}
		if (zrc == Z_STREAM_END)
			break;
		if (zrc != Z_OK)
		{
			/* Z_BUF_ERROR here means the input ended before the stream */
			result = (zrc == Z_MEM_ERROR) ? PMC_INFLATE_NO_MEMORY : PMC_INFLATE_CORRUPT;
			break;
		}
	} while (1);

	inflateEnd(&zs);
	return result;
}

/*
 * Inflate a zlib (RFC 1950) stream, as pylibmc's inflateInit does.  Bytes
 * after the end of the stream are ignored, as zlib and pylibmc do (an
 * append to a compressed item leaves some).  Two passes: the first
 * measures, so the result is allocated once at its exact size and never
 * beyond 'limit'.
 */
PmcInflateResult
pmc_inflate(const char *in, size_t inlen, size_t limit,
			pmc_alloc_fn alloc, char **out, size_t *outlen)
{
	PmcInflateResult rc;
	size_t		size;
	char	   *buf;

	*out = NULL;
	*outlen = 0;
	if (inlen > 0x7fffffff)
		return PMC_INFLATE_TOO_BIG;
	rc = inflate_pass(in, inlen, limit, NULL, &size);
	if (rc != PMC_INFLATE_OK)
		return rc;
	buf = alloc(size + 1);
	if (buf == NULL)
		return PMC_INFLATE_NO_MEMORY;
	rc = inflate_pass(in, inlen, size, buf, outlen);
	if (rc != PMC_INFLATE_OK)
		return rc;				/* caller's allocator owns buf */
	buf[*outlen] = '\0';
	*out = buf;
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
