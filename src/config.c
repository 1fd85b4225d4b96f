/*-------------------------------------------------------------------------
 *
 * config.c
 *	  Parsing of the pylibmc_pg.servers and pylibmc_pg.behaviors settings.
 *
 * Plain C with no backend dependencies (see config.h): every failure is
 * reported as a message in errbuf and a NULL result.  The syntax is
 * pylibmc's (translate_server_spec and the behavior names of
 * pylibmc.Client.behaviors), made strict where pylibmc silently wraps or
 * misreads (ports out of range, bare IPv6 addresses, weights on sockets).
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libmemcached-1.0/types/behavior.h>
#include <libmemcached-1.0/types/hash.h>
#include <libmemcached-1.0/types/server_distribution.h>

#include "config.h"

/* Every name pylibmc 1.6.3 accepts in Client(behaviors=...) */
const PmcBehaviorInfo pmc_behavior_table[] = {
	{"no_block", MEMCACHED_BEHAVIOR_NO_BLOCK, PMC_BK_BOOL},
	{"tcp_nodelay", MEMCACHED_BEHAVIOR_TCP_NODELAY, PMC_BK_BOOL},
	{"tcp_keepalive", MEMCACHED_BEHAVIOR_TCP_KEEPALIVE, PMC_BK_BOOL},
	{"hash", MEMCACHED_BEHAVIOR_HASH, PMC_BK_HASH},
	{"ketama_hash", MEMCACHED_BEHAVIOR_KETAMA_HASH, PMC_BK_HASH},
	{"ketama", MEMCACHED_BEHAVIOR_KETAMA, PMC_BK_BOOL},
	{"ketama_weighted", MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, PMC_BK_BOOL},
	{"distribution", MEMCACHED_BEHAVIOR_DISTRIBUTION, PMC_BK_DISTRIBUTION},
	{"cas", MEMCACHED_BEHAVIOR_SUPPORT_CAS, PMC_BK_BOOL},
	{"buffer_requests", MEMCACHED_BEHAVIOR_BUFFER_REQUESTS, PMC_BK_BOOL},
	{"verify_keys", MEMCACHED_BEHAVIOR_VERIFY_KEY, PMC_BK_BOOL},
	{"connect_timeout", MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, PMC_BK_INT},
	{"send_timeout", MEMCACHED_BEHAVIOR_SND_TIMEOUT, PMC_BK_INT},
	{"receive_timeout", MEMCACHED_BEHAVIOR_RCV_TIMEOUT, PMC_BK_INT},
	{"num_replicas", MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS, PMC_BK_INT},
	{"auto_eject", MEMCACHED_BEHAVIOR_AUTO_EJECT_HOSTS, PMC_BK_BOOL},
	{"retry_timeout", MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, PMC_BK_INT},
	{"_retry_timeout", MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, PMC_BK_INT},
	{"remove_failed", MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, PMC_BK_INT},
	{"failure_limit", MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, PMC_BK_INT},
	{"dead_timeout", MEMCACHED_BEHAVIOR_DEAD_TIMEOUT, PMC_BK_INT},
	{"_io_msg_watermark", MEMCACHED_BEHAVIOR_IO_MSG_WATERMARK, PMC_BK_INT},
	{"_io_bytes_watermark", MEMCACHED_BEHAVIOR_IO_BYTES_WATERMARK, PMC_BK_INT},
	{"_io_key_prefetch", MEMCACHED_BEHAVIOR_IO_KEY_PREFETCH, PMC_BK_INT},
	{"_hash_with_prefix_key", MEMCACHED_BEHAVIOR_HASH_WITH_PREFIX_KEY, PMC_BK_BOOL},
	{"_noreply", MEMCACHED_BEHAVIOR_NOREPLY, PMC_BK_BOOL},
	{"_sort_hosts", MEMCACHED_BEHAVIOR_SORT_HOSTS, PMC_BK_BOOL},
	{"_poll_timeout", MEMCACHED_BEHAVIOR_POLL_TIMEOUT, PMC_BK_INT},
	{"_socket_send_size", MEMCACHED_BEHAVIOR_SOCKET_SEND_SIZE, PMC_BK_INT},
	{"_socket_recv_size", MEMCACHED_BEHAVIOR_SOCKET_RECV_SIZE, PMC_BK_INT},
	{"pickle_protocol", PMC_BEHAVIOR_PYLIBMC_ONLY, PMC_BK_INT},
};
const int	pmc_behavior_table_size = sizeof(pmc_behavior_table) / sizeof(pmc_behavior_table[0]);

typedef struct NamedValue
{
	const char *name;
	int			value;
} NamedValue;

/* pylibmc.hashers, plus murmur3 which libmemcached 1.1 has */
static const NamedValue hash_names[] = {
	{"default", MEMCACHED_HASH_DEFAULT},
	{"md5", MEMCACHED_HASH_MD5},
	{"crc", MEMCACHED_HASH_CRC},
	{"fnv1_64", MEMCACHED_HASH_FNV1_64},
	{"fnv1a_64", MEMCACHED_HASH_FNV1A_64},
	{"fnv1_32", MEMCACHED_HASH_FNV1_32},
	{"fnv1a_32", MEMCACHED_HASH_FNV1A_32},
	{"hsieh", MEMCACHED_HASH_HSIEH},
	{"murmur", MEMCACHED_HASH_MURMUR},
	{"jenkins", MEMCACHED_HASH_JENKINS},
	{"murmur3", MEMCACHED_HASH_MURMUR3},
	{NULL, 0}
};

/* pylibmc.distributions; the names use spaces, underscores are accepted too */
static const NamedValue distribution_names[] = {
	{"modula", MEMCACHED_DISTRIBUTION_MODULA},
	{"consistent", MEMCACHED_DISTRIBUTION_CONSISTENT},
	{"consistent ketama", MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA},
	{"random", MEMCACHED_DISTRIBUTION_RANDOM},
	{"consistent ketama spy", MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA_SPY},
	{"consistent weighted", MEMCACHED_DISTRIBUTION_CONSISTENT_WEIGHTED},
	{"virtual bucket", MEMCACHED_DISTRIBUTION_VIRTUAL_BUCKET},
	{"consistent max", MEMCACHED_DISTRIBUTION_CONSISTENT_MAX},
	{NULL, 0}
};

static void set_error(char *errbuf, size_t errlen, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

static void
set_error(char *errbuf, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

/* Copy [start, end) into dst (size dstlen) with surrounding blanks removed */
static size_t
copy_trimmed(char *dst, size_t dstlen, const char *start, const char *end)
{
	size_t		len;

	while (start < end && isspace((unsigned char) *start))
		start++;
	while (end > start && isspace((unsigned char) end[-1]))
		end--;
	len = (size_t) (end - start);
	if (len >= dstlen)
		len = dstlen - 1;
	memcpy(dst, start, len);
	dst[len] = '\0';
	return len;
}

/*
 * Parse a decimal number in [min, max]; the whole string must be digits.
 */
static bool
parse_bounded_int(const char *s, long long min, long long max, long long *result)
{
	char	   *end;
	long long	val;

	if (*s == '\0' || isspace((unsigned char) *s))
		return false;
	errno = 0;
	val = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || val < min || val > max)
		return false;
	*result = val;
	return true;
}

static bool
valid_host_name(const char *host)
{
	const unsigned char *p;

	if (*host == '\0')
		return false;
	for (p = (const unsigned char *) host; *p; p++)
	{
		if (!isalnum(*p) && *p != '-' && *p != '.' && *p != '_')
			return false;
	}
	return true;
}

static bool
valid_ipv6_literal(const char *host)
{
	const unsigned char *p;

	if (*host == '\0' || strchr(host, ':') == NULL)
		return false;
	for (p = (const unsigned char *) host; *p; p++)
	{
		if (!isxdigit(*p) && *p != ':' && *p != '.' && *p != '%' &&
			!isalnum(*p))
			return false;
	}
	return true;
}

/*
 * Parse "port[:weight]" (the part after the host); an empty rest means
 * the defaults.
 */
static bool
parse_port_weight(const char *rest, PmcServer *server,
				  const char *entry, char *errbuf, size_t errlen)
{
	char		buf[64];
	char	   *colon;
	long long	val;

	server->port = PMC_DEFAULT_PORT;
	server->weight = 1;
	if (*rest == '\0')
		return true;
	if (*rest != ':')
	{
		set_error(errbuf, errlen, "unexpected text after the host in server \"%s\"", entry);
		return false;
	}
	rest++;
	if (strlen(rest) >= sizeof(buf))
	{
		set_error(errbuf, errlen, "invalid port in server \"%s\"", entry);
		return false;
	}
	strcpy(buf, rest);
	colon = strchr(buf, ':');
	if (colon)
		*colon = '\0';
	if (!parse_bounded_int(buf, 1, 65535, &val))
	{
		set_error(errbuf, errlen, "invalid port \"%s\" in server \"%s\": a port is a number from 1 to 65535",
				  buf, entry);
		return false;
	}
	server->port = (int) val;
	if (colon)
	{
		if (!parse_bounded_int(colon + 1, 1, 1000000, &val))
		{
			set_error(errbuf, errlen, "invalid weight \"%s\" in server \"%s\": a weight is a number from 1 to 1000000",
					  colon + 1, entry);
			return false;
		}
		server->weight = (int) val;
	}
	return true;
}

/*
 * Parse one entry of the list into *server and *transport.
 */
static bool
parse_server_entry(const char *entry, PmcServer *server, PmcTransport *transport,
				   char *errbuf, size_t errlen)
{
	const char *spec = entry;
	const char *rest;
	size_t		hostlen;

	memset(server, 0, sizeof(*server));

	/* A UNIX socket: the whole entry is the path (pylibmc: no weight) */
	if (entry[0] == '/')
	{
		if (strlen(entry) > 107)
		{
			set_error(errbuf, errlen, "socket path \"%s\" is too long (at most 107 bytes)", entry);
			return false;
		}
		*transport = PMC_TRANSPORT_UNIX;
		strcpy(server->host, entry);
		server->port = 0;
		server->weight = 1;
		return true;
	}

	*transport = PMC_TRANSPORT_TCP;
	if (strncasecmp(spec, "udp:", 4) == 0)
	{
		*transport = PMC_TRANSPORT_UDP;
		spec += 4;
	}
	else if (strncasecmp(spec, "unix:", 5) == 0)
	{
		set_error(errbuf, errlen, "invalid server \"%s\": write a UNIX socket as its absolute path, without \"unix:\"", entry);
		return false;
	}

	if (spec[0] == '[')
	{
		const char *close = strchr(spec, ']');

		if (close == NULL)
		{
			set_error(errbuf, errlen, "missing \"]\" in server \"%s\"", entry);
			return false;
		}
		hostlen = (size_t) (close - spec - 1);
		if (hostlen == 0 || hostlen > PMC_MAX_HOST_LEN)
		{
			set_error(errbuf, errlen, "invalid IPv6 address in server \"%s\"", entry);
			return false;
		}
		memcpy(server->host, spec + 1, hostlen);
		server->host[hostlen] = '\0';
		if (!valid_ipv6_literal(server->host))
		{
			set_error(errbuf, errlen, "invalid IPv6 address \"%s\" in server \"%s\"", server->host, entry);
			return false;
		}
		rest = close + 1;
	}
	else
	{
		const char *colon = strchr(spec, ':');

		if (colon && strchr(colon + 1, ':') && strchr(strchr(colon + 1, ':') + 1, ':'))
		{
			set_error(errbuf, errlen, "invalid server \"%s\": write an IPv6 address in brackets, as \"[::1]:11211\"", entry);
			return false;
		}
		hostlen = colon ? (size_t) (colon - spec) : strlen(spec);
		if (hostlen == 0 || hostlen > PMC_MAX_HOST_LEN)
		{
			set_error(errbuf, errlen, "missing or invalid host in server \"%s\"", entry);
			return false;
		}
		memcpy(server->host, spec, hostlen);
		server->host[hostlen] = '\0';
		if (!valid_host_name(server->host))
		{
			set_error(errbuf, errlen, "invalid host \"%s\" in server \"%s\"", server->host, entry);
			return false;
		}
		rest = spec + hostlen;
	}
	return parse_port_weight(rest, server, entry, errbuf, errlen);
}

static const char *
transport_name(PmcTransport t)
{
	switch (t)
	{
		case PMC_TRANSPORT_TCP:
			return "TCP";
		case PMC_TRANSPORT_UDP:
			return "UDP";
		case PMC_TRANSPORT_UNIX:
			return "a UNIX socket";
	}
	return "?";
}

/*
 * Parse a comma-separated server list.  An empty or blank string gives a
 * list of no servers (the caller decides whether that is allowed).
 */
PmcServerList *
pmc_parse_servers(const char *input, pmc_alloc_fn alloc, char *errbuf, size_t errlen)
{
	PmcServer  *parsed;
	PmcServerList *result;
	PmcTransport transport = PMC_TRANSPORT_TCP;
	char		first_entry[PMC_MAX_HOST_LEN + 16] = "";
	int			n = 0;
	const char *p = input ? input : "";
	bool		blank = true;

	for (const char *q = p; *q; q++)
		if (!isspace((unsigned char) *q))
			blank = false;

	parsed = calloc(PMC_MAX_SERVERS, sizeof(PmcServer));
	if (parsed == NULL)
	{
		set_error(errbuf, errlen, "out of memory");
		return NULL;
	}

	while (!blank)
	{
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		char		entry[PMC_MAX_HOST_LEN + 16];
		PmcTransport t;

		if ((size_t) (end - p) >= sizeof(entry))
		{
			set_error(errbuf, errlen, "server entry \"%.40s...\" is too long", p);
			goto fail;
		}
		copy_trimmed(entry, sizeof(entry), p, end);
		if (entry[0] == '\0')
		{
			set_error(errbuf, errlen, "empty entry in the server list (entry %d)", n + 1);
			goto fail;
		}
		if (n >= PMC_MAX_SERVERS)
		{
			set_error(errbuf, errlen, "too many servers (at most %d)", PMC_MAX_SERVERS);
			goto fail;
		}
		if (!parse_server_entry(entry, &parsed[n], &t, errbuf, errlen))
			goto fail;
		if (n == 0)
		{
			transport = t;
			strcpy(first_entry, entry);
		}
		else if (t != transport)
		{
			set_error(errbuf, errlen, "cannot mix transports: server \"%s\" uses %s but \"%s\" uses %s",
					  entry, transport_name(t), first_entry, transport_name(transport));
			goto fail;
		}
		n++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}

	result = alloc(sizeof(PmcServerList) + n * sizeof(PmcServer));
	if (result == NULL)
	{
		set_error(errbuf, errlen, "out of memory");
		goto fail;
	}
	result->transport = transport;
	result->nservers = n;
	if (n > 0)
		memcpy(result->servers, parsed, n * sizeof(PmcServer));
	free(parsed);
	return result;

fail:
	free(parsed);
	return NULL;
}

static const PmcBehaviorInfo *
lookup_behavior(const char *name)
{
	for (int i = 0; i < pmc_behavior_table_size; i++)
		if (strcasecmp(pmc_behavior_table[i].name, name) == 0)
			return &pmc_behavior_table[i];
	return NULL;
}

/* Compare names treating '_' and ' ' alike ("consistent_ketama") */
static bool
name_matches(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
	{
		char		ca = (*a == '_') ? ' ' : tolower((unsigned char) *a);
		char		cb = (*b == '_') ? ' ' : tolower((unsigned char) *b);

		if (ca != cb)
			return false;
	}
	return *a == *b;
}

static bool
lookup_named(const NamedValue *table, const char *name, int *value)
{
	for (; table->name; table++)
		if (name_matches(table->name, name))
		{
			*value = table->value;
			return true;
		}
	return false;
}

static const char *
name_of(const NamedValue *table, uint64_t value)
{
	for (; table->name; table++)
		if ((uint64_t) table->value == value)
			return table->name;
	return NULL;
}

/* The table entry of a libmemcached behavior (the first, not an alias) */
const PmcBehaviorInfo *
pmc_behavior_info(int id)
{
	for (int i = 0; i < pmc_behavior_table_size; i++)
		if (pmc_behavior_table[i].id == id)
			return &pmc_behavior_table[i];
	return NULL;
}

/* pylibmc's name of a libmemcached behavior */
const char *
pmc_behavior_name(int id)
{
	const PmcBehaviorInfo *info = pmc_behavior_info(id);

	return info ? info->name : "?";
}

const char *
pmc_hash_name(uint64_t value)
{
	return name_of(hash_names, value);
}

const char *
pmc_distribution_name(uint64_t value)
{
	return name_of(distribution_names, value);
}

static bool
parse_bool_word(const char *s, int64_t *value)
{
	static const char *const trues[] = {"true", "on", "yes", "1", "t", "y", NULL};
	static const char *const falses[] = {"false", "off", "no", "0", "f", "n", NULL};

	for (int i = 0; trues[i]; i++)
		if (strcasecmp(s, trues[i]) == 0)
		{
			*value = 1;
			return true;
		}
	for (int i = 0; falses[i]; i++)
		if (strcasecmp(s, falses[i]) == 0)
		{
			*value = 0;
			return true;
		}
	return false;
}

static bool
parse_behavior_value(const PmcBehaviorInfo *info, const char *text, int64_t *value,
					 char *errbuf, size_t errlen)
{
	long long	num;
	int			named;

	switch (info->kind)
	{
		case PMC_BK_BOOL:
			if (!parse_bool_word(text, value))
			{
				set_error(errbuf, errlen, "behavior \"%s\" takes a boolean, not \"%s\"", info->name, text);
				return false;
			}
			/* these two make every result unknowable: refuse them */
			if (*value && (info->id == MEMCACHED_BEHAVIOR_NOREPLY ||
						   info->id == MEMCACHED_BEHAVIOR_BUFFER_REQUESTS))
			{
				set_error(errbuf, errlen, "behavior \"%s\" cannot be turned on: no reply could be checked, so results would be wrong",
						  info->name);
				return false;
			}
			return true;
		case PMC_BK_INT:
			if (info->id == PMC_BEHAVIOR_PYLIBMC_ONLY)
			{
				if (!parse_bounded_int(text, -1, 5, &num))
				{
					set_error(errbuf, errlen, "behavior \"%s\" takes a number from -1 to 5, not \"%s\"", info->name, text);
					return false;
				}
			}
			else if (!parse_bounded_int(text, 0, INT32_MAX, &num))
			{
				set_error(errbuf, errlen, "behavior \"%s\" takes a whole number from 0 to 2147483647, not \"%s\"",
						  info->name, text);
				return false;
			}

			/*
			 * libmemcached 1.1.4 sends deletes to replicas as quiet requests
			 * and never reads the "not found" a replica answers, so a later
			 * read returns the reply of the request before it: wrong values.
			 */
			/*
			 * A zero timeout makes libmemcached give up at once: every call
			 * would fail.  Waits are bounded by these two, so they must be.
			 */
			if (num == 0 && (info->id == MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT ||
							 info->id == MEMCACHED_BEHAVIOR_POLL_TIMEOUT))
			{
				set_error(errbuf, errlen, "behavior \"%s\" must be at least 1 (milliseconds): with 0 every call would fail",
						  info->name);
				return false;
			}
			if (info->id == MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS && num > 0)
			{
				set_error(errbuf, errlen, "behavior \"%s\" cannot be above 0: libmemcached leaves replicas' replies unread, so reads would return other keys' values",
						  info->name);
				return false;
			}
			*value = num;
			return true;
		case PMC_BK_HASH:
			if (lookup_named(hash_names, text, &named))
			{
				*value = named;
				return true;
			}
			/* ketama_hash takes numbers as well, as in pylibmc */
			if (info->id == MEMCACHED_BEHAVIOR_KETAMA_HASH &&
				parse_bounded_int(text, 0, MEMCACHED_HASH_MURMUR3, &num))
			{
				*value = num;
				return true;
			}
			set_error(errbuf, errlen, "unknown hash \"%s\" for behavior \"%s\"", text, info->name);
			return false;
		case PMC_BK_DISTRIBUTION:
			if (lookup_named(distribution_names, text, &named))
			{
				*value = named;
				return true;
			}
			set_error(errbuf, errlen, "unknown distribution \"%s\"", text);
			return false;
	}
	return false;
}

/*
 * Parse "name=value, name=value".  Later settings of the same name win,
 * but all are kept in order: libmemcached's behaviors interact (ketama
 * sets the distribution), so they are applied as written.
 */
PmcBehaviorList *
pmc_parse_behaviors(const char *input, pmc_alloc_fn alloc, char *errbuf, size_t errlen)
{
	PmcBehaviorSetting settings[PMC_MAX_BEHAVIORS];
	PmcBehaviorList *result;
	int			n = 0;
	const char *p = input ? input : "";

	for (;;)
	{
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		const char *eq;
		char		name[64];
		char		value[64];
		const PmcBehaviorInfo *info;

		/* a blank list, or a trailing comma, is fine */
		copy_trimmed(value, sizeof(value), p, end);
		if (value[0] == '\0')
		{
			if (comma == NULL)
				break;
			if (end == p || n == 0 || comma[1] != '\0')
			{
				set_error(errbuf, errlen, "empty entry in the behavior list");
				return NULL;
			}
			p = comma + 1;
			continue;
		}
		eq = memchr(p, '=', (size_t) (end - p));
		if (eq == NULL)
		{
			set_error(errbuf, errlen, "behavior \"%s\" has no value: write name=value", value);
			return NULL;
		}
		if ((size_t) (eq - p) >= sizeof(name) || (size_t) (end - eq) >= sizeof(value))
		{
			set_error(errbuf, errlen, "behavior entry \"%.40s\" is too long", p);
			return NULL;
		}
		copy_trimmed(name, sizeof(name), p, eq);
		copy_trimmed(value, sizeof(value), eq + 1, end);
		info = lookup_behavior(name);
		if (info == NULL)
		{
			set_error(errbuf, errlen, "unknown behavior \"%s\"", name);
			return NULL;
		}
		if (value[0] == '\0')
		{
			set_error(errbuf, errlen, "behavior \"%s\" has an empty value", name);
			return NULL;
		}
		if (n >= PMC_MAX_BEHAVIORS)
		{
			set_error(errbuf, errlen, "too many behaviors (at most %d)", PMC_MAX_BEHAVIORS);
			return NULL;
		}
		settings[n].id = info->id;
		if (!parse_behavior_value(info, value, &settings[n].value, errbuf, errlen))
			return NULL;
		n++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}

	result = alloc(sizeof(PmcBehaviorList) + n * sizeof(PmcBehaviorSetting));
	if (result == NULL)
	{
		set_error(errbuf, errlen, "out of memory");
		return NULL;
	}
	result->nsettings = n;
	if (n > 0)
		memcpy(result->settings, settings, n * sizeof(PmcBehaviorSetting));
	return result;
}
