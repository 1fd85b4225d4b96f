/*-------------------------------------------------------------------------
 *
 * keys.c
 *	  memcached keys and the arguments every operation shares: checking,
 *	  converting to UTF-8, prefixing, printing in messages; ttls.
 *
 * Keys are checked here for every protocol: in the ASCII protocol a space
 * or control character would split the command (key injection, a
 * desynchronised connection), so they are refused everywhere and a key
 * means the same in ASCII and binary.
 *
 *-------------------------------------------------------------------------
 */
#include "pylibmc_pg.h"

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"


/*
 * A key for a message: control characters escaped, long keys shortened.
 */
char *
pmc_printable_key(const char *key, size_t len)
{
	StringInfoData buf;
	size_t		shown = len;

	/* keys are UTF-8: never cut a character in two */
	if (len > 64)
		shown = pg_encoding_mbcliplen(PG_UTF8, key, (int) len, 64);

	initStringInfo(&buf);
	for (size_t i = 0; i < shown; i++)
	{
		unsigned char c = (unsigned char) key[i];

		if (c < 0x20 || c == 0x7f)
			appendStringInfo(&buf, "\\x%02x", c);
		else
			appendStringInfoChar(&buf, (char) c);
	}
	if (shown < len)
		appendStringInfoString(&buf, "...");
	return buf.data;
}

/*
 * memcached's key rules, checked here for every protocol: in the ASCII
 * protocol a space or control character would split the command (key
 * injection, a desynchronised connection), so we refuse them everywhere,
 * and a key means the same in ASCII and binary.  Bytes >= 0x80 are fine
 * (UTF-8 keys), as in pylibmc.
 */
void
pmc_check_key(const char *key, size_t len)
{
	size_t		nslen = pmc_namespace_length();

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("memcached key must not be empty")));
	if (len + nslen > PMC_MAX_KEY_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("memcached key \"%s\" is too long", pmc_printable_key(key, len)),
				 errdetail("The key is %zu bytes%s; memcached allows at most %d.",
						   len + nslen, nslen ? " with the namespace" : "", PMC_MAX_KEY_LEN),
				 errhint("Hash long keys, for example with md5().")));
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) key[i];

		if (c <= ' ' || c == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("memcached key \"%s\" contains a space or control character",
							pmc_printable_key(key, len)),
					 errhint("Keys cannot hold spaces or control characters; encode such keys, for example with md5() or encode(..., 'hex').")));
	}
}

/*
 * A key from a text argument, in UTF-8 (as Python clients send str keys),
 * checked.  The result is NUL-terminated, palloc'd unless it is the text's
 * own storage.
 */
char *
pmc_key_from_text(text *t, size_t *len)
{
	return pmc_prefixed_key(NULL, 0, t, len);
}

char *
pmc_prefixed_key(const char *prefix, size_t prefixlen, text *t, size_t *len)
{
	const char *raw = VARDATA_ANY(t);
	int			rawlen = VARSIZE_ANY_EXHDR(t);
	char	   *utf8 = pg_server_to_any(raw, rawlen, PG_UTF8);
	size_t		utf8len = (utf8 == raw) ? (size_t) rawlen : strlen(utf8);
	char	   *key = palloc(prefixlen + utf8len + 1);

	if (prefixlen)
		memcpy(key, prefix, prefixlen);
	memcpy(key + prefixlen, utf8, utf8len);
	key[prefixlen + utf8len] = '\0';
	*len = prefixlen + utf8len;
	pmc_check_key(key, *len);
	return key;
}

/*
 * A ttl is memcached's expiration: 0 never, up to 30 days relative
 * seconds, beyond that a unix time.  Negative values mean "now" in ASCII
 * and "year 2106" in binary with pylibmc; we refuse them in both.
 */
time_t
pmc_check_ttl(int32 ttl)
{
	if (ttl < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl must not be negative"),
				 errhint("Use 0 for no expiry, a number of seconds up to 2592000 (30 days), or a unix time; use mc_delete() to remove a key.")));
	return (time_t) ttl;
}
