/*-------------------------------------------------------------------------
 *
 * keys.c
 *	  memcached keys and the arguments every operation shares: checking,
 *	  converting to UTF-8, prefixing; ttls.
 *
 * Keys are checked here for every protocol: in the ASCII protocol a space
 * or control character would split the command (key injection, a
 * desynchronised connection), so they are refused everywhere and a key
 * means the same in ASCII and binary.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "exchange.h"
#include "keys.h"
#include "settings.h"

/*
 * The bytes a key cannot hold: space, the control characters, DEL (see
 * the file's header).  Bytes >= 0x80 are fine (UTF-8 keys), as in pylibmc.
 */
static const bool key_byte_refused[256] = {
	[0x00] = true, [0x01] = true, [0x02] = true, [0x03] = true,
	[0x04] = true, [0x05] = true, [0x06] = true, [0x07] = true,
	[0x08] = true, [0x09] = true, [0x0a] = true, [0x0b] = true,
	[0x0c] = true, [0x0d] = true, [0x0e] = true, [0x0f] = true,
	[0x10] = true, [0x11] = true, [0x12] = true, [0x13] = true,
	[0x14] = true, [0x15] = true, [0x16] = true, [0x17] = true,
	[0x18] = true, [0x19] = true, [0x1a] = true, [0x1b] = true,
	[0x1c] = true, [0x1d] = true, [0x1e] = true, [0x1f] = true,
	[' '] = true, [0x7f] = true,
};

void
pmc_check_key(const char *key, size_t len)
{
	size_t		nslen = pmc_namespace_length();
	bool		refused = false;

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
	/* no branch per byte: refused bytes are rare, their message rarer */
	for (size_t i = 0; i < len; i++)
		refused |= key_byte_refused[(unsigned char) key[i]];
	if (unlikely(refused))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("memcached key \"%s\" contains a space or control character",
						pmc_printable_key(key, len)),
				 errhint("Keys cannot hold spaces or control characters; encode such keys, for example with md5() or encode(..., 'hex').")));
}

/*
 * Server-encoding bytes in UTF-8 (as Python clients send str), and their
 * length: 's' itself in a UTF-8 database (not NUL-terminated then), else a
 * palloc'd, NUL-terminated conversion.
 */
char *
pmc_server_to_utf8(const char *s, int len, size_t *utf8len)
{
	char	   *utf8 = pg_server_to_any(s, len, PG_UTF8);

	*utf8len = (utf8 == s) ? (size_t) len : strlen(utf8);
	return utf8;
}

/*
 * A key from a text argument, in UTF-8 (as Python clients send str keys),
 * checked.  The result is NUL-terminated and palloc'd.
 */
char *
pmc_key_from_text(text *t, size_t *len)
{
	return pmc_prefixed_key(NULL, 0, t, len);
}

/*
 * The same into the caller's buffer of PMC_KEY_BUFSIZE bytes (on its
 * stack: nothing is allocated in a UTF-8 database).  Returns buf.
 */
char *
pmc_key_into(text *t, char *buf, size_t *len)
{
	size_t		utf8len;
	char	   *utf8 = pmc_server_to_utf8(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &utf8len);

	pmc_check_key(utf8, utf8len);	/* so at most PMC_MAX_KEY_LEN bytes */
	memcpy(buf, utf8, utf8len);
	buf[utf8len] = '\0';
	*len = utf8len;
	return buf;
}

char *
pmc_prefixed_key(const char *prefix, size_t prefixlen, text *t, size_t *len)
{
	size_t		utf8len;
	char	   *utf8 = pmc_server_to_utf8(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &utf8len);
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
