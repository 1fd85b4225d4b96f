/*-------------------------------------------------------------------------
 *
 * value.c
 *	  Classify, inflate, deflate and check the bytes of a cached value.
 *
 * Everything a server sends is untrusted: a flags word nobody writes, a
 * "zlib" payload that is not one or that inflates to gigabytes, an
 * "integer" that is not a number.  These functions say which, without
 * allocating more than the caller's limit.
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>
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
 * Compression state: libdeflate for the work (three to five times zlib's
 * speed on the same RFC 1950 streams), one zlib inflate stream to measure
 * values larger than the scratch buffer without allocating them.  All of it
 * comes from the allocator installed by pmc_value_set_allocator (the
 * extension's memory context; malloc in the fuzzer) and lives for the
 * process: allocating it per value costs more than compressing.
 */
static pmc_alloc_fn state_alloc = malloc;
static pmc_free_fn state_free = free;
static pmc_interrupt_fn interrupt_check = NULL;

static struct libdeflate_decompressor *decompressor = NULL;
static struct libdeflate_compressor *compressor = NULL;
static int	compressor_level = 0;	/* its level, 0: none */

static z_stream inflater;
static bool inflater_ready = false;

static void *
zlib_alloc(void *opaque, uInt items, uInt size)
{
	(void) opaque;
	if (size != 0 && items > SIZE_MAX / size)
		return NULL;
	return state_alloc((size_t) items * size);
}

static void
zlib_free(void *opaque, void *ptr)
{
	(void) opaque;
	if (ptr != NULL)
		state_free(ptr);
}

static void
state_free_nullable(void *ptr)
{
	if (ptr != NULL)
		state_free(ptr);
}

/*
 * Where compression state is allocated.  'alloc' returns NULL on failure
 * (it must not throw: libdeflate and zlib call it).  Call it before any
 * compression; it is a no-op once state exists (libdeflate's allocator is
 * process-wide and may only change while no (de)compressor exists).
 */
void
pmc_value_set_allocator(pmc_alloc_fn alloc, pmc_free_fn dealloc,
						pmc_interrupt_fn interrupt)
{
	interrupt_check = interrupt;
	if (decompressor != NULL || compressor != NULL || inflater_ready)
		return;
	state_alloc = alloc;
	state_free = dealloc;
	/* libdeflate calls free(NULL) freely; ours may not take NULL */
	libdeflate_set_memory_allocator(alloc, state_free_nullable);
}

static void
check_interrupt(void)
{
	if (interrupt_check != NULL)
		interrupt_check();
}

static bool
inflater_start(void)
{
	if (inflater_ready)
		return inflateReset(&inflater) == Z_OK;
	memset(&inflater, 0, sizeof(inflater));
	inflater.zalloc = zlib_alloc;
	inflater.zfree = zlib_free;
	if (inflateInit(&inflater) != Z_OK)
		return false;
	inflater_ready = true;
	return true;
}

/*
 * Values that inflate to at most this much are inflated once, here, by
 * libdeflate, and copied out at their exact size.  A static buffer: its
 * pages are touched once and reused (fresh blocks at each call cost more
 * in page faults than the copy).
 */
#ifndef PMC_INFLATE_SCRATCH
#define PMC_INFLATE_SCRATCH		(256 * 1024)	/* test/fuzz builds it smaller */
#endif
static char scratch[PMC_INFLATE_SCRATCH];

/* zlib's measuring pass calls check_interrupt after each this much output */
#ifndef PMC_INFLATE_CHECK_EVERY
#define PMC_INFLATE_CHECK_EVERY	((size_t) 1024 * 1024)
#endif

/*
 * Count the output of the whole stream with zlib, into a small sink, never
 * past limit + 1 bytes.  Cancellable: check_interrupt runs between chunks
 * (nothing is allocated here, so leaving by longjmp leaks nothing).
 */
static PmcInflateResult
inflate_measure(const char *in, size_t inlen, size_t limit, size_t *size)
{
	unsigned char sink[16384];
	size_t		next_check = PMC_INFLATE_CHECK_EVERY;
	int			zrc;

	if (!inflater_start())
		return PMC_INFLATE_NO_MEMORY;
	inflater.next_in = (unsigned char *) in;
	inflater.avail_in = (uInt) inlen;
	for (;;)
	{
		inflater.next_out = sink;
		inflater.avail_out = sizeof(sink);
		zrc = inflate(&inflater, Z_NO_FLUSH);
		if (inflater.total_out > limit)
			return PMC_INFLATE_TOO_BIG;
		if (zrc == Z_STREAM_END)
		{
			*size = inflater.total_out;
			return PMC_INFLATE_OK;
		}
		if (zrc != Z_OK)
		{
			/* Z_BUF_ERROR here means the input ended before the stream */
			return (zrc == Z_MEM_ERROR) ? PMC_INFLATE_NO_MEMORY : PMC_INFLATE_CORRUPT;
		}
		if (inflater.total_out >= next_check)
		{
			check_interrupt();
			next_check = inflater.total_out + PMC_INFLATE_CHECK_EVERY;
		}
	}
}

/* libdeflate's one-shot inflate of a zlib stream into out[0, cap) */
static enum libdeflate_result
inflate_into(const char *in, size_t inlen, char *out, size_t cap, size_t *outlen)
{
	size_t		used_in;

	/* with used_in asked for, bytes after the stream are allowed */
	return libdeflate_zlib_decompress_ex(decompressor, in, inlen, out, cap,
										 &used_in, outlen);
}

/*
 * Inflate a zlib (RFC 1950) stream, as pylibmc's inflateInit does.  Bytes
 * after the end of the stream are ignored, as zlib and pylibmc do (an
 * append to a compressed item leaves some).  Never more than 'limit' bytes
 * of output, and never an allocation beyond them.
 *
 * How, without the size up front (a zlib stream does not carry it):
 * libdeflate into the static scratch buffer first (most values fit; no
 * allocation but the result).  A value that does not fit is measured by
 * zlib's streaming inflate into a 16 kB sink, stopping one byte past the
 * limit, with check_interrupt between megabytes; only then is its exact
 * size allocated and libdeflate inflates into it.  So a zlib bomb costs
 * CPU up to the limit (cancellable) and never memory.
 *
 * On success *out is one block from 'alloc': 'headroom' bytes left for the
 * caller (a varlena header), then the *outlen inflated bytes, then a NUL.
 * On failure *out is NULL and nothing is left allocated.
 */
PmcInflateResult
pmc_inflate(const char *in, size_t inlen, size_t limit, size_t headroom,
			pmc_alloc_fn alloc, pmc_free_fn dealloc, char **out, size_t *outlen)
{
	enum libdeflate_result lrc;
	PmcInflateResult rc;
	size_t		size = 0;
	size_t		cap = limit < sizeof(scratch) ? limit : sizeof(scratch);
	char	   *buf;

	*out = NULL;
	*outlen = 0;
	if (inlen > 0x7fffffff)
		return PMC_INFLATE_TOO_BIG;
	if (decompressor == NULL &&
		(decompressor = libdeflate_alloc_decompressor()) == NULL)
		return PMC_INFLATE_NO_MEMORY;

	lrc = inflate_into(in, inlen, scratch, cap, &size);
	if (lrc == LIBDEFLATE_SUCCESS)
	{
		buf = alloc(headroom + size + 1);
		if (buf == NULL)
			return PMC_INFLATE_NO_MEMORY;
		memcpy(buf + headroom, scratch, size);
	}
	else if (lrc != LIBDEFLATE_INSUFFICIENT_SPACE)
		return PMC_INFLATE_CORRUPT;
	else if (cap == limit)
		return PMC_INFLATE_TOO_BIG;
	else
	{
		/* larger than the scratch buffer: measure, then inflate in place */
		check_interrupt();
		rc = inflate_measure(in, inlen, limit, &size);
		if (rc != PMC_INFLATE_OK)
			return rc;
		check_interrupt();
		buf = alloc(headroom + size + 1);
		if (buf == NULL)
			return PMC_INFLATE_NO_MEMORY;
		if (inflate_into(in, inlen, buf + headroom, size, outlen) != LIBDEFLATE_SUCCESS ||
			*outlen != size)
		{
			/* zlib accepted what libdeflate refuses: treat it as corrupt */
			dealloc(buf);
			*outlen = 0;
			return PMC_INFLATE_CORRUPT;
		}
	}
	buf[headroom + size] = '\0';
	*out = buf;
	*outlen = size;
	return PMC_INFLATE_OK;
}

/*
 * Compress in[0, len) into a zlib (RFC 1950) stream at zlib's 'level'
 * (1..9) in out[0, cap).  Returns the stream's size, or 0 when it does not
 * fit in cap bytes (give cap = len - 1 to keep only a smaller result) or
 * no compressor could be allocated.
 */
size_t
pmc_deflate(const char *in, size_t len, int level, char *out, size_t cap)
{
	if (level < 1 || level > 9)
		return 0;
	if (compressor_level != level)
	{
		if (compressor != NULL)
			libdeflate_free_compressor(compressor);
		compressor_level = 0;
		compressor = libdeflate_alloc_compressor(level);
		if (compressor == NULL)
			return 0;
		compressor_level = level;
	}
	return libdeflate_zlib_compress(compressor, in, len, out, cap);
}

/*
 * Is this an integer as pylibmc's int() accepts it: surrounding blanks, an
 * optional sign, decimal digits?  (A decr may leave trailing spaces.)
 * On success, point at the sign-and-digits part.
 */
bool
pmc_all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/*
 * Is this a pickled None, flags 1: the tombstone of the invalidation hold
 * ("N.", protocol 0, what pylibmc writes for None) or a pickle of None in
 * a later protocol ("\x80" and the protocol's number first, "\x80\x02N."
 * for the lease marker)?  Every call reads one as an absent key.
 */
bool
pmc_value_is_none_pickle(const char *data, size_t len, uint32_t flags)
{
	if (flags != PMC_FLAG_PICKLE || data == NULL)
		return false;
	if (len == 4 && (unsigned char) data[0] == 0x80)
	{
		data += 2;
		len -= 2;
	}
	return len == 2 && data[0] == 'N' && data[1] == '.';
}

/* The hold's tombstone: exactly "N.", flags 1 */
bool
pmc_value_is_tombstone(const char *data, size_t len, uint32_t flags)
{
	return flags == PMC_TOMBSTONE_FLAGS && data != NULL &&
		len == PMC_TOMBSTONE_LEN && memcmp(data, PMC_TOMBSTONE, len) == 0;
}

/* A lease marker: any pickled None but the tombstone */
bool
pmc_value_is_lease(const char *data, size_t len, uint32_t flags)
{
	return pmc_value_is_none_pickle(data, len, flags) &&
		!pmc_value_is_tombstone(data, len, flags);
}

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
	if (i == end || !pmc_all_digits(data + i, end - i))
		return false;
	*digits = data + start;
	*ndigits = end - start;
	return true;
}
