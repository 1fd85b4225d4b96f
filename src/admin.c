/*-------------------------------------------------------------------------
 *
 * admin.c
 *	  mc_stats, mc_flush_all, mc_disconnect_all, mc_behaviors and
 *	  mc_support_sasl.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <netdb.h>

#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"

#include "client.h"
#include "compat.h"
#include "config.h"
#include "exchange.h"
#include "keys.h"
#include "settings.h"
#include "stats.h"

PG_FUNCTION_INFO_V1(pylibmc_pg_stats);
PG_FUNCTION_INFO_V1(pylibmc_pg_flush_all);
PG_FUNCTION_INFO_V1(pylibmc_pg_disconnect_all);
PG_FUNCTION_INFO_V1(pylibmc_pg_behaviors);
PG_FUNCTION_INFO_V1(pylibmc_pg_support_sasl);

typedef struct StatRow
{
	char	   *server;
	char	   *name;
	char	   *value;
} StatRow;

typedef struct StatCollector
{
	StatRow    *rows;
	int			n;
	int			capacity;
} StatCollector;

/* pnstrdup that returns NULL instead of throwing when out of memory */
static char *
copy_or_null(const char *s, size_t len)
{
	char	   *copy = palloc_extended(len + 1, MCXT_ALLOC_NO_OOM);

	if (copy != NULL)
	{
		memcpy(copy, s, len);
		copy[len] = '\0';
	}
	return copy;
}

/*
 * Called by libmemcached for each "STAT name value" line.  Only copies
 * into our memory, without throwing (an ERROR must not unwind through
 * libmemcached): out of memory is a libmemcached failure that the
 * exchange reports.  The rows become tuples after every reply was read.
 */
static memcached_return_t
collect_stat(const memcached_instance_st *server, const char *key, size_t key_length,
			 const char *value, size_t value_length, void *context)
{
	StatCollector *c = (StatCollector *) context;
	StatRow    *row;
	char		name[NI_MAXHOST + 16];

	if (c->n == c->capacity)
	{
		StatRow    *rows = palloc_extended(c->capacity * 2 * sizeof(StatRow),
										   MCXT_ALLOC_NO_OOM);

		if (rows == NULL)
			return MEMCACHED_MEMORY_ALLOCATION_FAILURE;
		memcpy(rows, c->rows, c->n * sizeof(StatRow));
		pfree(c->rows);
		c->rows = rows;
		c->capacity *= 2;
	}
	if (memcached_server_port(server) == 0)
		snprintf(name, sizeof(name), "%s", memcached_server_name(server));
	else
		snprintf(name, sizeof(name), "%s:%u", memcached_server_name(server),
				 (unsigned) memcached_server_port(server));
	row = &c->rows[c->n];
	row->server = copy_or_null(name, strlen(name));
	row->name = copy_or_null(key, key_length);
	row->value = copy_or_null(value, value_length);
	if (row->server == NULL || row->name == NULL || row->value == NULL)
		return MEMCACHED_MEMORY_ALLOCATION_FAILURE;
	c->n++;
	return MEMCACHED_SUCCESS;
}

/*
 * A server that sent no statistic at all did not answer "stats": a proxy
 * such as twemproxy closes the connection instead, and libmemcached counts
 * that as success.  Say so, rather than return an empty set.
 */
static void
check_every_server_answered(memcached_st *mc, StatCollector *c)
{
	uint32_t	count = memcached_server_count(mc);

	for (uint32_t i = 0; i < count; i++)
	{
		char	   *name = pmc_instance_name(memcached_server_instance_by_position(mc, i));
		bool		answered = false;

		for (int r = 0; r < c->n && !answered; r++)
			answered = (strcmp(c->rows[r].server, name) == 0);
		if (!answered)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("memcached server %s returned no statistics", name),
					 errdetail("It closed the connection instead of answering \"stats\"."),
					 errhint("A proxy such as twemproxy does not pass stats on: read them from the memcached servers behind it.")));
		pfree(name);
	}
}

/*
 * A flush_all answered by closing the connection: what a proxy such as
 * twemproxy does with commands it does not support.  Never a miss: always
 * an ERROR, whatever on_error says.
 */
static void
report_unanswered_flush(PmcExchange *x)
{
	uint32_t	count = memcached_server_count(x->mc);

	for (uint32_t i = 0; i < count; i++)
	{
		const memcached_instance_st *inst = memcached_server_instance_by_position(x->mc, i);
		const char *message = memcached_server_error(inst);

		if (memcached_server_error_return(inst) == MEMCACHED_CONNECTION_FAILURE &&
			message != NULL && strstr(message, "server has disconnected") != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("memcached server %s closed the connection instead of answering flush_all",
							pmc_instance_name(inst)),
					 errhint("A proxy such as twemproxy does not support flush_all: flush the memcached servers behind it.")));
	}
	pmc_report_failure(x);
}

typedef struct StatArgs
{
	char	   *arg;
	StatCollector *collector;
} StatArgs;

static memcached_return_t
read_stats(memcached_st *mc, void *arg)
{
	StatArgs   *a = (StatArgs *) arg;

	return memcached_stat_execute(mc, a->arg, collect_stat, a->collector);
}

static memcached_return_t
send_flush(memcached_st *mc, void *arg)
{
	return memcached_flush(mc, *(time_t *) arg);
}

/*
 * mc_stats(arg text DEFAULT NULL): every statistic each server reports
 * (memcached's "stats" or "stats <arg>"), as (server, name, value) rows,
 * servers in list order.
 */
Datum
pylibmc_pg_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *arg = NULL;
	StatCollector collector;
	memcached_st *mc;
	StatArgs	sargs;
	PmcExchange x;

	pmc_init_materialized_srf(fcinfo);
	if (PG_NARGS() > 0 && !PG_ARGISNULL(0))
	{
		/*
		 * Only the read-only groups: "stats reset" or "stats detail on"
		 * would let a monitoring role change the servers.
		 */
		static const char *const allowed[] = {"items", "slabs", "settings", "sizes", "conns", NULL};
		bool		ok = false;

		arg = text_to_cstring(PG_GETARG_TEXT_PP(0));
		for (int i = 0; allowed[i]; i++)
			if (strcmp(arg, allowed[i]) == 0)
				ok = true;
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid stats argument \"%s\"", arg),
					 errhint("Use NULL, 'items', 'slabs', 'settings', 'sizes' or 'conns'.")));
	}
	pmc_forbid_udp("mc_stats");
	mc = pmc_client();

	collector.n = 0;
	collector.capacity = 64;
	collector.rows = palloc(collector.capacity * sizeof(StatRow));
	sargs.arg = arg;
	sargs.collector = &collector;
	pmc_exchange_init(&x, mc, PMC_OP_STATS, "read statistics", NULL, 0);
	/* "stats items", "stats sizes" and "stats slabs" may be empty */
	if (pmc_exchange(&x, read_stats, &sargs) == PMC_HIT &&
		(arg == NULL || strcmp(arg, "settings") == 0 || strcmp(arg, "conns") == 0))
		check_every_server_answered(mc, &collector);

	for (int i = 0; i < collector.n; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(collector.rows[i].server);
		values[1] = CStringGetTextDatum(collector.rows[i].name);
		values[2] = CStringGetTextDatum(collector.rows[i].value);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* mc_flush_all(ttl): invalidate every item on every server, after ttl s */
Datum
pylibmc_pg_flush_all(PG_FUNCTION_ARGS)
{
	time_t		ttl = pmc_check_ttl(PG_GETARG_INT32(0));
	memcached_st *mc = pmc_client();
	PmcExchange x;

	pmc_exchange_init(&x, mc, PMC_OP_FLUSH, "flush all keys", NULL, 0);
	x.caller_handles = MEMCACHED_SOME_ERRORS;	/* how libmemcached sums up */
	if (pmc_exchange(&x, send_flush, &ttl) == PMC_HIT)
		PG_RETURN_BOOL(true);
	if (x.rc == MEMCACHED_SOME_ERRORS)
		report_unanswered_flush(&x);
	PG_RETURN_BOOL(false);
}

Datum
pylibmc_pg_disconnect_all(PG_FUNCTION_ARGS)
{
	pmc_disconnect_all();
	PG_RETURN_VOID();
}

/*
 * mc_behaviors(): the effective behaviors, as pylibmc's Client.behaviors:
 * hash and distribution by name, everything else a number.
 */
Datum
pylibmc_pg_behaviors(PG_FUNCTION_ARGS)
{
	memcached_st *mc = pmc_client();
	StringInfoData buf;
	int64		pickle_protocol = -1;
	bool		first = true;

	if (pmc_behavior_list)
		for (int i = 0; i < pmc_behavior_list->nsettings; i++)
			if (pmc_behavior_list->settings[i].id == PMC_BEHAVIOR_PYLIBMC_ONLY)
				pickle_protocol = pmc_behavior_list->settings[i].value;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < pmc_behavior_table_size; i++)
	{
		const PmcBehaviorInfo *info = &pmc_behavior_table[i];
		uint64_t	value;

		if (info->name[0] == '_' && strcmp(info->name, "_retry_timeout") == 0)
			continue;			/* an alias */
		if (!first)
			appendStringInfoString(&buf, ", ");
		first = false;
		if (info->id == PMC_BEHAVIOR_PYLIBMC_ONLY)
		{
			appendStringInfo(&buf, "\"%s\": %lld", info->name, (long long) pickle_protocol);
			continue;
		}
		if (info->id == MEMCACHED_BEHAVIOR_SUPPORT_CAS)
			value = pmc_client_cas_wanted();	/* off between mc_gets calls */
		else
			value = memcached_behavior_get(mc, (memcached_behavior_t) info->id);
		if (info->id == MEMCACHED_BEHAVIOR_HASH && pmc_hash_name(value))
			appendStringInfo(&buf, "\"%s\": \"%s\"", info->name, pmc_hash_name(value));
		else if (info->kind == PMC_BK_DISTRIBUTION && pmc_distribution_name(value))
			appendStringInfo(&buf, "\"%s\": \"%s\"", info->name, pmc_distribution_name(value));
		else
			appendStringInfo(&buf, "\"%s\": %llu", info->name, (unsigned long long) value);
	}
	appendStringInfoChar(&buf, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

Datum
pylibmc_pg_support_sasl(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(LIBMEMCACHED_WITH_SASL_SUPPORT != 0);
}
