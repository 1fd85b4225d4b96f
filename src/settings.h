/*-------------------------------------------------------------------------
 *
 * settings.h
 *	  The pylibmc_pg.* settings (guc.c) and the SASL credentials they name
 *	  (credentials.c).
 *
 * The hooks only store: every change of a setting the client is built
 * from bumps pmc_settings_generation, which the client compares at its
 * next call (as postgres_fdw's pgfdw_inval_callback marks its entries);
 * nothing here calls up (src/README: layers).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYLIBMC_PG_SETTINGS_H
#define PYLIBMC_PG_SETTINGS_H

#include <libmemcached/memcached.h>

#include "compat.h"
#include "config.h"

/* ---------- guc.c ---------- */

typedef enum PmcOnError
{
	PMC_ON_ERROR_ERROR,
	PMC_ON_ERROR_WARNING,
	PMC_ON_ERROR_IGNORE
} PmcOnError;

extern PmcServerList *pmc_server_list;	/* parsed pylibmc_pg.servers */
extern PmcBehaviorList *pmc_behavior_list;	/* parsed pylibmc_pg.behaviors */
extern bool pmc_binary;
extern char *pmc_username;
extern char *pmc_password;
extern char *pmc_namespace;
extern int	pmc_on_error;
extern int	pmc_invalidation_hold;	/* seconds; 0: delete */
extern int	pmc_lease_wait;		/* ms mc_cached waits for another's lease */
extern char *pmc_password_file;
extern int	pmc_cluster_stats_max;	/* pylibmc_pg.cluster_stats_max */

/* the invalidation log (inval_log.c, inval_replay.c) */
extern bool pmc_invalidation_log;	/* pylibmc_pg.invalidation_log */
extern char *pmc_invalidation_log_databases;	/* read at server start */
extern int	pmc_invalidation_log_max_age;	/* seconds; 0: never give up */

/*
 * Bumped by every assign hook of a setting the client is built from (never
 * 0): a client built at another generation compares what it was built from.
 */
extern uint64 pmc_settings_generation;

/* Define the settings (from _PG_init) */
extern void pmc_define_gucs(void);

/*
 * ERROR if a setting's current value is a stored value its check refused
 * (fail closed); called before the client is built or reused.
 */
extern void pmc_check_settings_usable(void);

/* was the value chosen by a role that may not read the password? */
extern bool pmc_servers_chosen_by_role(void);
extern bool pmc_password_chosen_by_role(void);

/*
 * Apply pylibmc_pg.behaviors' libmemcached behaviors to mc, in order; on a
 * refusal, libmemcached's result, with *refused set to the setting.
 */
extern memcached_return_t pmc_apply_behaviors(memcached_st *mc, const PmcBehaviorList *list,
											  const PmcBehaviorSetting **refused);

/* The namespace's length in bytes (0: none) */
static inline size_t
pmc_namespace_length(void)
{
	return (pmc_namespace && pmc_namespace[0]) ? strlen(pmc_namespace) : 0;
}

/* ---------- credentials.c ---------- */

extern bool pmc_sasl_has_secret(void);
extern void pmc_check_credentials_destination(void);
extern char *pmc_sasl_password(void);
extern void pmc_forget_password(char *password);

#endif							/* PYLIBMC_PG_SETTINGS_H */
