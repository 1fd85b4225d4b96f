/*-------------------------------------------------------------------------
 *
 * module.c
 *	  The module's entry: its magic block and _PG_init(), which defines the
 *	  settings and wires the layers together (src/README), nothing else.
 *
 * A lower layer never calls an upper one by name; where one of its events
 * concerns an upper layer, the upper one registers a callback here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "client.h"
#include "inval.h"
#include "replay.h"
#include "settings.h"
#include "stats.h"

PMC_MODULE_MAGIC;

void		_PG_init(void);
PGDLLEXPORT void _PG_output_plugin_init(OutputPluginCallbacks *cb);

void
_PG_init(void)
{
	pmc_define_gucs();

	/* a client (re)built: this backend's counters map its servers */
	pmc_client_on_build(pmc_stats_reset_servers);
	/* mc_disconnect_all() closes the commit-time clients too */
	pmc_client_on_disconnect_all(pmc_inval_disconnect);

	pmc_invalidation_init();
	pmc_cluster_stats_init();
	/* preloaded: the invalidation log's shared memory and workers */
	pmc_replay_init();
}

/* The logical decoding output plugin "pylibmc_pg" (inval_replay.c) */
void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	pmc_replay_plugin_init(cb);
}
