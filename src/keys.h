/*-------------------------------------------------------------------------
 *
 * keys.h
 *	  memcached keys and the arguments every operation shares
 *	  (src/README: layers).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYLIBMC_PG_KEYS_H
#define PYLIBMC_PG_KEYS_H

/* memcached's own limit on a key, in bytes, namespace included */
#define PMC_MAX_KEY_LEN		250

/* a key buffer for pmc_key_into(): the longest key and its NUL */
#define PMC_KEY_BUFSIZE		(PMC_MAX_KEY_LEN + 1)

/* Key checks: ERROR on an empty, too long or unsafe key */
extern void pmc_check_key(const char *key, size_t len);
extern char *pmc_key_from_text(text *t, size_t *len);
extern char *pmc_key_into(text *t, char *buf, size_t *len);
extern char *pmc_server_to_utf8(const char *s, int len, size_t *utf8len);
extern char *pmc_prefixed_key(const char *prefix, size_t prefixlen,
							  text *t, size_t *len);

/* Argument checks shared by the operations */
extern time_t pmc_check_ttl(int32 ttl);

#endif							/* PYLIBMC_PG_KEYS_H */
