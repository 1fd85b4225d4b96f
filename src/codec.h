/*-------------------------------------------------------------------------
 *
 * codec.h
 *	  SQL values to memcached's bytes and flags and back, as pylibmc
 *	  writes them (src/README: layers).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYLIBMC_PG_CODEC_H
#define PYLIBMC_PG_CODEC_H

#include "fmgr.h"

#include "value.h"

typedef struct PmcValue
{
	char	   *data;
	size_t		len;
	uint32		flags;
} PmcValue;

extern void pmc_check_value_type(Oid typid);
extern void pmc_encode(Datum value, Oid typid, PmcValue *out);
extern void pmc_check_compression(int32 min_compress_len, int32 compress_level);
extern void pmc_compress(PmcValue *value, int32 min_compress_len, int32 compress_level);
extern void pmc_check_datum_size(size_t len, const char *key);
extern Datum pmc_decode(const char *data, size_t len, uint32 flags, Oid typid,
						const char *key, size_t keylen, bool *isnull);
extern Oid	pmc_value_argtype(FunctionCallInfo fcinfo, int argno);
extern Oid	pmc_value_argtype_cached(FunctionCallInfo fcinfo, int argno);

#endif							/* PYLIBMC_PG_CODEC_H */
