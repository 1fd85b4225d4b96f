/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Shims for the PostgreSQL server API between major versions 13 and 17.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYLIBMC_PG_COMPAT_H
#define PYLIBMC_PG_COMPAT_H

#include "utils/guc.h"

/*
 * GUC "extra" data: since PostgreSQL 16 the GUC machinery frees it with
 * guc_free(), so it must come from guc_malloc(); before, from malloc().
 */
#if PG_VERSION_NUM >= 160000
#define pmc_guc_alloc_raw(size) guc_malloc(LOG, (size))
#define pmc_guc_free_raw(ptr) guc_free(ptr)
#else
#define pmc_guc_alloc_raw(size) malloc(size)
#define pmc_guc_free_raw(ptr) free(ptr)
#endif

/* Reserving a GUC prefix: PostgreSQL 15 renamed EmitWarningsOnPlaceholders */
#if PG_VERSION_NUM >= 150000
#define pmc_reserve_guc_prefix(prefix) MarkGUCPrefixReserved(prefix)
#else
#define pmc_reserve_guc_prefix(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/* SRF materialize mode: PostgreSQL 15 added InitMaterializedSRF */
#if PG_VERSION_NUM >= 160000
#define pmc_init_materialized_srf(fcinfo) InitMaterializedSRF((fcinfo), 0)
#elif PG_VERSION_NUM >= 150000
#define pmc_init_materialized_srf(fcinfo) SetSingleFuncCall((fcinfo), 0)
#else
#define pmc_init_materialized_srf(fcinfo) pmc_compat_init_materialized_srf(fcinfo)
#define PMC_NEED_COMPAT_SRF 1
#endif

#endif							/* PYLIBMC_PG_COMPAT_H */
