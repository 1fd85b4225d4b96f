/*
 * fuzz_value.c: libFuzzer harness for src/value.c, the code that reads what
 * a memcached server (or a hostile one) sends back: flags, zlib streams,
 * and integers.
 *
 * Input layout: 4 bytes of flags (little-endian), 1 byte choosing the
 * inflate limit (n * 256 bytes, so 0..65280: a small limit, as the
 * extension's is large), then the value bytes.  Each function is checked
 * against an independent reference written here:
 *   pmc_value_kind    - the kind follows pylibmc's rules on the type bits;
 *   pmc_inflate       - same verdict (ok or not) and same bytes as zlib's
 *                       inflate into a buffer of limit + 1 bytes, but for
 *                       libdeflate's known leniency in a dynamic block's
 *                       header (code-length repeats past the code lengths,
 *                       288 length or 32 distance symbols, some codes zlib
 *                       finds incomplete: zlib_header_leniency()): such a
 *                       stream may inflate when zlib refuses it for one of
 *                       those and the bytes carry the stream's own
 *                       Adler-32; never more
 *                       than limit bytes; the bytes after 'headroom' (0 to
 *                       7, from the flags' high byte) and a NUL after them;
 *                       one block left on success, none on failure;
 *   pmc_deflate       - at a level from the flags' second byte (1..9; 0
 *                       skips), into room of len - 1 bytes (what the
 *                       extension gives) or libdeflate's bound (bit 12 of
 *                       the flags): with the bound it always succeeds; any
 *                       stream it writes fits its room and zlib inflates it
 *                       back to the input, and so does pmc_inflate;
 *   pmc_integer_text  - same verdict as [blanks][sign]digits[blanks], and
 *                       the digits it points at lie inside the input.
 * pmc_inflate is libdeflate into a scratch buffer (1 kB here), then, for
 * larger values, zlib measuring with an interrupt check every 4 kB (counted
 * here) and libdeflate into the exact block; the compression state comes
 * from counting malloc wrappers installed with pmc_value_set_allocator.
 * (UTF-8 is checked by PostgreSQL's own pg_verify_mbstr in the extension.)
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>
#include <zlib.h>

#include "value.h"

/* pmc_inflate's blocks: counted, so a failure that keeps one shows */
static int	live_blocks;

static void *
fuzz_alloc(size_t size)
{
	live_blocks++;
	return malloc(size);
}

static void
fuzz_free(void *p)
{
	live_blocks--;
	free(p);
}

/* compression state (process-long): allocations live, never more frees */
static long state_blocks;
static long interrupts;

static void *
state_alloc(size_t size)
{
	state_blocks++;
	return malloc(size);
}

static void
state_free(void *p)
{
	if (--state_blocks < 0)
		abort();
	free(p);
}

static void
count_interrupt(void)
{
	interrupts++;
}

static int
ref_kind(uint32_t flags)
{
	uint32_t	types = flags & (1 | 2 | 4 | 16);

	if (types == 0)
		return PMC_KIND_BYTES;
	if (types == 16)
		return (flags & 32) ? PMC_KIND_JSON : PMC_KIND_TEXT;
	if (types == 2 || types == 4)
		return PMC_KIND_INTEGER;
	return PMC_KIND_UNDECODABLE;
}

/* zlib's last verdict in ref_inflate: inflate()'s return and message */
static int	ref_zrc;
static const char *ref_msg;

/* 1 = a complete stream within limit (bytes in out, *outlen), 0 = not */
static int
ref_inflate(const uint8_t *in, size_t inlen, size_t limit, uint8_t *out, size_t *outlen)
{
	z_stream	zs;
	int			zrc;
	int			ok = 0;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit(&zs) != Z_OK)
		abort();
	zs.next_in = (Bytef *) in;
	zs.avail_in = (uInt) inlen;
	zs.next_out = out;
	zs.avail_out = (uInt) (limit + 1);
	for (;;)
	{
		zrc = inflate(&zs, Z_NO_FLUSH);
		if (zrc == Z_STREAM_END)
		{
			ok = zs.total_out <= limit;
			break;
		}
		if (zrc != Z_OK || zs.avail_out == 0)
			break;
	}
	*outlen = zs.total_out;
	ref_zrc = zrc;
	ref_msg = zs.msg ? zs.msg : "";	/* zlib's messages are static strings */
	inflateEnd(&zs);
	return ok;
}

/*
 * zlib refused the stream for how a dynamic block's header builds its
 * Huffman codes, where libdeflate is laxer: it lets a code-length repeat
 * run past the code lengths, takes 288 length or 32 distance symbols (the
 * format's reserved ones), and builds some codes zlib finds incomplete.
 * Every byte libdeflate then writes is still decoded from the data and
 * checked against the stream's Adler-32.  Any other refusal (a bad zlib
 * header, block type, stored length, distance too far back, checksum) is
 * one libdeflate must share.
 */
static int
zlib_header_leniency(const char *msg)
{
	static const char *const lenient[] = {
		"invalid bit length repeat",
		"too many length or distance symbols",
		"invalid code lengths set",
		"invalid literal/lengths set",
		"invalid distances set",
	};

	for (size_t i = 0; i < sizeof(lenient) / sizeof(lenient[0]); i++)
		if (strcmp(msg, lenient[i]) == 0)
			return 1;
	return 0;
}

/*
 * pmc_inflate returned out[0, outlen) from a stream zlib refused: only
 * libdeflate's known leniency may explain it.  zlib must have refused the
 * stream for one of those reasons, libdeflate must give the same bytes,
 * and they must carry the Adler-32 that ends the stream where libdeflate
 * stopped reading it (computed here with zlib's adler32).
 */
static int
lenient_ok(const uint8_t *in, size_t inlen, size_t limit, const char *out, size_t outlen)
{
	struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
	char	   *again = malloc(limit + 1);
	size_t		used_in = 0;
	size_t		againlen = 0;
	uint32_t	trailer;
	int			ok;

	if (d == NULL || again == NULL)
		abort();
	ok = ref_zrc == Z_DATA_ERROR && zlib_header_leniency(ref_msg) &&
		libdeflate_zlib_decompress_ex(d, in, inlen, again, limit + 1, &used_in, &againlen) ==
		LIBDEFLATE_SUCCESS &&
		againlen == outlen && memcmp(again, out, outlen) == 0 && used_in >= 6;
	if (ok)
	{
		trailer = (uint32_t) in[used_in - 4] << 24 | (uint32_t) in[used_in - 3] << 16 |
			(uint32_t) in[used_in - 2] << 8 | (uint32_t) in[used_in - 1];
		ok = adler32(adler32(0, NULL, 0), (const Bytef *) out, (uInt) outlen) == trailer;
	}
	free(again);
	libdeflate_free_decompressor(d);
	return ok;
}

static int
ref_integer(const uint8_t *d, size_t len)
{
	size_t		s = 0,
				e = len,
				i;

	while (s < e && isspace(d[s]))
		s++;
	while (e > s && isspace(d[e - 1]))
		e--;
	i = s;
	if (i < e && (d[i] == '+' || d[i] == '-'))
		i++;
	if (i == e)
		return 0;
	for (; i < e; i++)
		if (!isdigit(d[i]))
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t	flags;
	size_t		limit;
	const uint8_t *val;
	size_t		len;
	int			kind;

	static int	initialized = 0;

	if (!initialized)
	{
		pmc_value_set_allocator(state_alloc, state_free, count_interrupt);
		initialized = 1;
	}
	if (size < 5 || size > 256 * 1024)
		return 0;
	flags = (uint32_t) data[0] | (uint32_t) data[1] << 8 |
		(uint32_t) data[2] << 16 | (uint32_t) data[3] << 24;
	limit = (size_t) data[4] * 256;
	val = data + 5;
	len = size - 5;

	/* flags */
	kind = pmc_value_kind(flags);
	if (kind != ref_kind(flags))
	{
		fprintf(stderr, "pmc_value_kind(%u) = %d, expected %d\n", flags, kind, ref_kind(flags));
		abort();
	}

	/* zlib: a copy of exactly len bytes, so ASan sees any overread */
	{
		char	   *in = malloc(len ? len : 1);
		char	   *out = NULL;
		size_t		outlen = 0;
		uint8_t    *ref = malloc(limit + 1);
		size_t		reflen = 0;
		int			ref_ok;
		PmcInflateResult rc;

		size_t		headroom = (flags >> 24) & 7;

		memcpy(in, val, len);
		live_blocks = 0;
		rc = pmc_inflate(in, len, limit, headroom, fuzz_alloc, fuzz_free, &out, &outlen);
		ref_ok = ref_inflate(val, len, limit, ref, &reflen);
		if (rc == PMC_INFLATE_OK && !ref_ok && out != NULL &&
			lenient_ok(val, len, limit, out + headroom, outlen))
		{
			/* libdeflate's leniency, checksum and all: same bytes as it */
			if (live_blocks != 1 || outlen > limit || out[headroom + outlen] != '\0')
				abort();
			fuzz_free(out);
		}
		else if ((rc == PMC_INFLATE_OK) != ref_ok)
		{
			fprintf(stderr, "pmc_inflate says %d, zlib says %s (limit %zu, %zu bytes out)\n",
					rc, ref_ok ? "ok" : "not ok", limit, reflen);
			abort();
		}
		else if (rc == PMC_INFLATE_OK)
		{
			if (out == NULL || outlen > limit || outlen != reflen || live_blocks != 1 ||
				memcmp(out + headroom, ref, outlen) != 0 || out[headroom + outlen] != '\0')
				abort();
			fuzz_free(out);
		}
		else if (out != NULL || outlen != 0 || live_blocks != 0)
			abort();
		free(ref);
		free(in);
	}

	/* deflate: a round trip through zlib and through pmc_inflate */
	{
		int			level = ((flags >> 8) & 0xff) % 10;
		size_t		bound = libdeflate_zlib_compress_bound(NULL, len);
		size_t		cap = (flags & (1 << 12)) ? bound : (len > 0 ? len - 1 : 0);
		char	   *in = malloc(len ? len : 1);
		char	   *z = malloc(cap ? cap : 1);
		size_t		zlen;

		memcpy(in, val, len);
		zlen = level ? pmc_deflate(in, len, level, z, cap) : 0;
		if (level && cap == bound && zlen == 0)
		{
			fprintf(stderr, "pmc_deflate failed with libdeflate's bound as room\n");
			abort();
		}
		if (zlen > cap)
			abort();
		if (zlen > 0)
		{
			uint8_t    *back = malloc(len + 1);
			size_t		backlen = 0;
			char	   *out = NULL;
			size_t		outlen = 0;

			if (!ref_inflate((const uint8_t *) z, zlen, len, back, &backlen) ||
				backlen != len || memcmp(back, val, len) != 0)
			{
				fprintf(stderr, "round trip: zlib does not inflate pmc_deflate's stream back (level %d)\n", level);
				abort();
			}
			live_blocks = 0;
			if (pmc_inflate(z, zlen, len, 0, fuzz_alloc, fuzz_free, &out, &outlen) != PMC_INFLATE_OK ||
				outlen != len || memcmp(out, val, len) != 0 || live_blocks != 1)
			{
				fprintf(stderr, "round trip: pmc_inflate disagrees with its own stream (level %d)\n", level);
				abort();
			}
			fuzz_free(out);
			free(back);
		}
		free(z);
		free(in);
	}

	/* integers, on an exact-size copy */
	{
		char	   *copy = malloc(len ? len : 1);
		const char *digits = NULL;
		size_t		ndigits = 0;
		bool		ok;

		memcpy(copy, val, len);
		ok = pmc_integer_text(copy, len, &digits, &ndigits);
		if (ok != ref_integer(val, len))
			abort();
		if (ok)
		{
			if (digits < copy || ndigits == 0 || digits + ndigits > copy + len)
				abort();
			for (size_t i = 0; i < ndigits; i++)
				if (!isdigit((unsigned char) digits[i]) &&
					!(i == 0 && (digits[i] == '-' || digits[i] == '+')))
					abort();
		}
		free(copy);
	}

	return 0;
}
