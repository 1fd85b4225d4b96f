/*-------------------------------------------------------------------------
 *
 * replay.h
 *	  Replaying the invalidation log (inval_replay.c): the output plugin,
 *	  the background workers, the mc_invalidation_log view (src/README:
 *	  layers).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYLIBMC_PG_REPLAY_H
#define PYLIBMC_PG_REPLAY_H

#include "replication/output_plugin.h"

/* _PG_output_plugin_init()'s callbacks */
extern void pmc_replay_plugin_init(OutputPluginCallbacks *cb);

/* From _PG_init() when preloaded: shared memory and one worker per database */
extern void pmc_replay_init(void);

/* the background worker's entry point (bgw_function_name) */
extern PGDLLEXPORT void pylibmc_pg_replay_main(Datum main_arg);

#endif							/* PYLIBMC_PG_REPLAY_H */
