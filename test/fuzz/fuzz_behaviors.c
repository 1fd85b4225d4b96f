/*
 * fuzz_behaviors.c: libFuzzer harness for pmc_parse_behaviors
 * (src/config.c).
 *
 * The input is a pylibmc_pg.behaviors string.  Checks: a failure leaves a
 * message; a success gives at most PMC_MAX_BEHAVIORS settings whose ids are
 * in pmc_behavior_table, with values in range for their kind (booleans 0/1,
 * integers 0..INT32_MAX or -1..5 for pickle_protocol, hashes and
 * distributions that have a name, or a number for ketama_hash); printing
 * the list back as name=value and parsing it again gives the same list.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmemcached-1.0/types/behavior.h>

#include "config.h"

static void *
fuzz_alloc(size_t size)
{
	return malloc(size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *input;
	char		errbuf[256];
	PmcBehaviorList *list;

	if (size > 64 * 1024)
		return 0;
	input = malloc(size + 1);
	memcpy(input, data, size);
	input[size] = '\0';

	errbuf[0] = '\0';
	list = pmc_parse_behaviors(input, fuzz_alloc, errbuf, sizeof(errbuf));
	if (list == NULL)
	{
		if (errbuf[0] == '\0' || memchr(errbuf, '\0', sizeof(errbuf)) == NULL)
			abort();
	}
	else
	{
		char		printed[PMC_MAX_BEHAVIORS * 96 + 1];
		size_t		used = 0;
		PmcBehaviorList *again;

		if (list->nsettings < 0 || list->nsettings > PMC_MAX_BEHAVIORS)
			abort();
		printed[0] = '\0';
		for (int i = 0; i < list->nsettings; i++)
		{
			const PmcBehaviorSetting *s = &list->settings[i];
			const PmcBehaviorInfo *info = pmc_behavior_info(s->id);
			const char *named = NULL;
			int			n;

			if (info == NULL)
				abort();
			switch (info->kind)
			{
				case PMC_BK_BOOL:
					if (s->value != 0 && s->value != 1)
						abort();
					break;
				case PMC_BK_INT:
					if (s->value < -1 || s->value > INT32_MAX ||
						(s->value < 0 && s->id >= 0))
						abort();
					break;
				case PMC_BK_HASH:
					named = pmc_hash_name((uint64_t) s->value);
					if (named == NULL && s->id != MEMCACHED_BEHAVIOR_KETAMA_HASH)
						abort();
					break;
				case PMC_BK_DISTRIBUTION:
					named = pmc_distribution_name((uint64_t) s->value);
					if (named == NULL)
						abort();
					break;
			}
			if (named)
				n = snprintf(printed + used, sizeof(printed) - used, "%s%s=%s",
							 i ? ", " : "", info->name, named);
			else
				n = snprintf(printed + used, sizeof(printed) - used, "%s%s=%lld",
							 i ? ", " : "", info->name, (long long) s->value);
			if (n < 0 || (size_t) n >= sizeof(printed) - used)
				abort();
			used += (size_t) n;
		}
		again = pmc_parse_behaviors(printed, fuzz_alloc, errbuf, sizeof(errbuf));
		if (again == NULL)
		{
			fprintf(stderr, "round trip failed: \"%s\": %s\n", printed, errbuf);
			abort();
		}
		if (again->nsettings != list->nsettings)
			abort();
		for (int i = 0; i < list->nsettings; i++)
			if (again->settings[i].id != list->settings[i].id ||
				again->settings[i].value != list->settings[i].value)
			{
				fprintf(stderr, "round trip changed setting %d: \"%s\"\n", i, printed);
				abort();
			}
		free(again);
		free(list);
	}
	free(input);
	return 0;
}
