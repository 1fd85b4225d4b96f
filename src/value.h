/*-------------------------------------------------------------------------
 *
 * value.h
 *	  The flags word and bytes of a cached value, as pylibmc 1.6 writes them.
 *
 * Plain C with no backend dependencies, like config.h, so that a fuzzer can
 * feed it what a hostile server could send.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYLIBMC_PG_VALUE_H
#define PYLIBMC_PG_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* pylibmc's flag bits (_pylibmcmodule.h, enum PylibMC_Flags) */
#define PMC_FLAG_NONE		0
#define PMC_FLAG_PICKLE		(1 << 0)
#define PMC_FLAG_INTEGER	(1 << 1)	/* pylibmc writes bool with it */
#define PMC_FLAG_LONG		(1 << 2)	/* pylibmc writes int with it */
#define PMC_FLAG_ZLIB		(1 << 3)
#define PMC_FLAG_TEXT		(1 << 4)
#define PMC_FLAG_TYPES		(PMC_FLAG_PICKLE | PMC_FLAG_INTEGER | PMC_FLAG_LONG | PMC_FLAG_TEXT)
/* ours: jsonb is text plus this bit, which pylibmc ignores */
#define PMC_FLAG_JSON		(1 << 5)

/*
 * The two pickled Nones the extension writes, flags 1 (a pickle: a miss for
 * mc_get and for pylibmc's get()):
 *   - the invalidation hold's tombstone: "N.", pickle protocol 0, what
 *     pylibmc's pickle.dumps(None) writes for a protocol below 2;
 *   - the lease marker of mc_lease: "\x80\x02N.", protocol 2.  Any pickle of
 *     None other than "N." is a lease, so pylibmc's add(key, None) (its
 *     highest protocol, "\x80\x05N." on Python 3.8+) claims a key too.
 * pmc_value_is_none_pickle() is true for both; the two helpers below tell
 * them apart.
 */
#define PMC_TOMBSTONE			"N."
#define PMC_TOMBSTONE_LEN		2
#define PMC_TOMBSTONE_FLAGS		PMC_FLAG_PICKLE
#define PMC_LEASE_MARKER		"\x80\x02N."
#define PMC_LEASE_MARKER_LEN	4
#define PMC_LEASE_MARKER_FLAGS	PMC_FLAG_PICKLE

/*
 * Largest value we inflate: PostgreSQL's largest datum, MaxAllocSize less a
 * varlena header (a varlena's length field has 30 bits).
 */
#define PMC_MAX_INFLATED	((size_t) 0x3fffffff - 4)

typedef enum PmcKind
{
	PMC_KIND_BYTES,				/* flags 0: bytea */
	PMC_KIND_TEXT,				/* 16: text */
	PMC_KIND_JSON,				/* 16 + 32: jsonb */
	PMC_KIND_INTEGER,			/* 2 or 4: decimal integer */
	PMC_KIND_UNDECODABLE		/* a pickle (1) or a combination nobody writes */
} PmcKind;

typedef enum PmcInflateResult
{
	PMC_INFLATE_OK,
	PMC_INFLATE_CORRUPT,		/* not a complete zlib stream */
	PMC_INFLATE_TOO_BIG,		/* would exceed the limit */
	PMC_INFLATE_NO_MEMORY
} PmcInflateResult;

typedef void (*pmc_interrupt_fn) (void);

extern void pmc_value_set_allocator(pmc_alloc_fn alloc, pmc_free_fn dealloc,
									pmc_interrupt_fn interrupt);
extern PmcKind pmc_value_kind(uint32_t flags);
extern PmcInflateResult pmc_inflate(const char *in, size_t inlen, size_t limit,
									size_t headroom, pmc_alloc_fn alloc,
									pmc_free_fn dealloc, char **out, size_t *outlen);
extern size_t pmc_deflate(const char *in, size_t len, int level,
						  char *out, size_t cap);
extern bool pmc_all_digits(const char *s, size_t len);
extern bool pmc_value_is_none_pickle(const char *data, size_t len, uint32_t flags);
extern bool pmc_value_is_tombstone(const char *data, size_t len, uint32_t flags);
extern bool pmc_value_is_lease(const char *data, size_t len, uint32_t flags);
extern bool pmc_integer_text(const char *data, size_t len,
							 const char **digits, size_t *ndigits);

#endif							/* PYLIBMC_PG_VALUE_H */
