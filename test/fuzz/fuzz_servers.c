/*
 * fuzz_servers.c: libFuzzer harness for pmc_parse_servers (src/config.c).
 *
 * The input is a pylibmc_pg.servers string.  Beyond "no crash, no ASan or
 * UBSan report", it checks what the GUC check hook relies on:
 *   - a failure leaves a non-empty, NUL-terminated message in errbuf;
 *   - a success gives a list within PMC_MAX_SERVERS, one transport, hosts
 *     NUL-terminated within their buffer, ports 1..65535 (0 for a UNIX
 *     socket), weights >= 1;
 *   - printing the parsed list back (host:port:weight, [v6]:port:weight,
 *     udp:..., /path) and parsing that again gives the same list.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

static void *
fuzz_alloc(size_t size)
{
	return malloc(size);
}

static size_t
print_list(const PmcServerList *list, char *buf, size_t buflen)
{
	size_t		used = 0;

	buf[0] = '\0';
	for (int i = 0; i < list->nservers; i++)
	{
		const PmcServer *s = &list->servers[i];
		const char *sep = i ? "," : "";
		int			n;

		if (list->transport == PMC_TRANSPORT_UNIX)
			n = snprintf(buf + used, buflen - used, "%s%s", sep, s->host);
		else
			n = snprintf(buf + used, buflen - used,
						 strchr(s->host, ':') ? "%s%s[%s]:%d:%d" : "%s%s%s:%d:%d",
						 sep, list->transport == PMC_TRANSPORT_UDP ? "udp:" : "",
						 s->host, s->port, s->weight);
		if (n < 0 || (size_t) n >= buflen - used)
			abort();
		used += (size_t) n;
	}
	return used;
}

static void
check_list(const PmcServerList *list)
{
	if (list->nservers < 0 || list->nservers > PMC_MAX_SERVERS)
		abort();
	for (int i = 0; i < list->nservers; i++)
	{
		const PmcServer *s = &list->servers[i];

		if (memchr(s->host, '\0', sizeof(s->host)) == NULL || s->host[0] == '\0')
			abort();
		if (s->weight < 1)
			abort();
		if (list->transport == PMC_TRANSPORT_UNIX)
		{
			if (s->port != 0 || s->host[0] != '/')
				abort();
		}
		else if (s->port < 1 || s->port > 65535)
			abort();
	}
}

/* A TCP host literally named "udp" or "unix" prints ambiguously: skip those */
static int
ambiguous(const PmcServerList *list)
{
	for (int i = 0; i < list->nservers; i++)
		if (strcasecmp(list->servers[i].host, "udp") == 0 ||
			strcasecmp(list->servers[i].host, "unix") == 0)
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *input;
	char		errbuf[256];
	PmcServerList *list;

	if (size > 64 * 1024)
		return 0;
	input = malloc(size + 1);
	memcpy(input, data, size);
	input[size] = '\0';

	errbuf[0] = '\0';
	list = pmc_parse_servers(input, fuzz_alloc, errbuf, sizeof(errbuf));
	if (list == NULL)
	{
		if (errbuf[0] == '\0' || memchr(errbuf, '\0', sizeof(errbuf)) == NULL)
			abort();
	}
	else
	{
		check_list(list);
		if (!ambiguous(list))
		{
			/* at most 256 entries of at most 255 + 1 + 4 + 16 bytes each */
			size_t		buflen = (size_t) PMC_MAX_SERVERS * (PMC_MAX_HOST_LEN + 32) + 1;
			char	   *printed = malloc(buflen);
			PmcServerList *again;

			print_list(list, printed, buflen);
			again = pmc_parse_servers(printed, fuzz_alloc, errbuf, sizeof(errbuf));
			if (again == NULL)
			{
				fprintf(stderr, "round trip failed: \"%s\": %s\n", printed, errbuf);
				abort();
			}
			if (again->transport != list->transport || again->nservers != list->nservers)
				abort();
			for (int i = 0; i < list->nservers; i++)
				if (strcmp(again->servers[i].host, list->servers[i].host) != 0 ||
					again->servers[i].port != list->servers[i].port ||
					again->servers[i].weight != list->servers[i].weight)
				{
					fprintf(stderr, "round trip changed entry %d: \"%s\"\n", i, printed);
					abort();
				}
			free(again);
			free(printed);
		}
		free(list);
	}
	free(input);
	return 0;
}
