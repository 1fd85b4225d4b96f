/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Shims for the PostgreSQL server API between major versions 13 and 18.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYLIBMC_PG_COMPAT_H
#define PYLIBMC_PG_COMPAT_H

#include "fmgr.h"
#include "utils/guc.h"

/* PostgreSQL 16 moved the varlena macros (VARDATA_ANY, ...) out of postgres.h */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

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

/*
 * Shared memory: since PostgreSQL 15 a preloaded library asks for it in
 * shmem_request_hook; before, directly from _PG_init().
 */
#if PG_VERSION_NUM >= 150000
#define PMC_HAVE_SHMEM_REQUEST_HOOK 1
#endif

/* SRF materialize mode: PostgreSQL 15 added InitMaterializedSRF */
#if PG_VERSION_NUM >= 160000
#define pmc_init_materialized_srf(fcinfo) InitMaterializedSRF((fcinfo), 0)
#elif PG_VERSION_NUM >= 150000
#define pmc_init_materialized_srf(fcinfo) SetSingleFuncCall((fcinfo), 0)
#else
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/tuplestore.h"

/* What SetSingleFuncCall does in PostgreSQL 15, for 13 and 14 */
static inline void
pmc_init_materialized_srf(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc	tupdesc;
	MemoryContext oldcontext;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	oldcontext = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->setDesc = CreateTupleDescCopy(tupdesc);
	MemoryContextSwitchTo(oldcontext);
}
#endif

/*
 * Parameters whose types the parser infers, as PREPARE without types does
 * (lease.c): renamed in PostgreSQL 15.
 */
#if PG_VERSION_NUM >= 150000
#define pmc_parse_variable_parameters(pstate, types, n) \
	setup_parse_variable_parameters((pstate), (types), (n))
#else
#define pmc_parse_variable_parameters(pstate, types, n) \
	parse_variable_parameters((pstate), (types), (n))
#endif

/* pg_ltoa and pg_lltoa return the length since PostgreSQL 14 */
#if PG_VERSION_NUM >= 140000
#define pmc_ltoa(value, buf) pg_ltoa((value), (buf))
#define pmc_lltoa(value, buf) pg_lltoa((value), (buf))
#else
#include "utils/builtins.h"

static inline int
pmc_ltoa(int32 value, char *buf)
{
	pg_ltoa(value, buf);
	return (int) strlen(buf);
}

static inline int
pmc_lltoa(int64 value, char *buf)
{
	pg_lltoa(value, buf);
	return (int) strlen(buf);
}
#endif

/*
 * Since 17.12, heap_getattr() (an inline function, used by inval_trigger.c)
 * calls heap_datum_check(), which servers 17.0 to 17.11 do not export: built
 * against 17.12's headers, the module would not load into them ("undefined
 * symbol: heap_datum_check").  This weak fallback does what those servers
 * do, no check; where the server has the function, the dynamic linker binds
 * the server's own (the postgres executable comes first in the lookup).
 */
#if PG_VERSION_NUM >= 170012 && PG_VERSION_NUM < 180000
#include "access/htup_details.h"

__attribute__((weak)) PGDLLEXPORT void
heap_datum_check(HeapTupleHeader tup, TupleDesc tupleDesc)
{
}
#endif

/*
 * A logical decoding message: PostgreSQL 17 added the flush argument (a
 * transactional message is flushed with its commit record anyway).
 */
#if PG_VERSION_NUM >= 170000
#define pmc_log_logical_message(prefix, data, size, transactional) \
	LogLogicalMessage((prefix), (data), (size), (transactional), false)
#else
#define pmc_log_logical_message(prefix, data, size, transactional) \
	LogLogicalMessage((prefix), (data), (size), (transactional))
#endif

/* The WAL flushed so far: PostgreSQL 15 added the timeline argument */
#if PG_VERSION_NUM >= 150000
#define pmc_flush_rec_ptr() GetFlushRecPtr(NULL)
#else
#define pmc_flush_rec_ptr() GetFlushRecPtr()
#endif

/* Acquiring a replication slot, erroring if it is in use (or invalid) */
#if PG_VERSION_NUM >= 180000
#define pmc_replication_slot_acquire(name) ReplicationSlotAcquire((name), true, true)
#elif PG_VERSION_NUM >= 140000
#define pmc_replication_slot_acquire(name) ReplicationSlotAcquire((name), true)
#else
#define pmc_replication_slot_acquire(name) ((void) ReplicationSlotAcquire((name), SAB_Error))
#endif

/* A decoded transaction's commit time: PostgreSQL 15 moved it into a union */
#if PG_VERSION_NUM >= 150000
#define pmc_txn_commit_time(txn) ((txn)->xact_time.commit_time)
#else
#define pmc_txn_commit_time(txn) ((txn)->commit_time)
#endif

/*
 * The module magic block: PostgreSQL 18 also records the module's name and
 * version (pg_get_loaded_modules()).  PMC_MODULE_VERSION is the control
 * file's default_version; test/packaging/meta.t checks that they agree.
 */
#define PMC_MODULE_VERSION "1.2"
#ifdef PG_MODULE_MAGIC_EXT
#define PMC_MODULE_MAGIC \
	PG_MODULE_MAGIC_EXT(.name = "pylibmc_pg", .version = PMC_MODULE_VERSION)
#else
#define PMC_MODULE_MAGIC PG_MODULE_MAGIC
#endif

#endif							/* PYLIBMC_PG_COMPAT_H */
