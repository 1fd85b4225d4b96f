/*-------------------------------------------------------------------------
 *
 * inval_trigger.c
 *	  The mc_invalidate() trigger: cache keys built from a row's columns,
 *	  queued for deletion at commit (inval_queue.c).
 *
 * CREATE TRIGGER ... AFTER INSERT OR UPDATE OR DELETE ON t FOR EACH ROW
 * EXECUTE FUNCTION mc_invalidate('user:{id}', 'user_email:{email}');
 *
 * Each argument is a key template.  "{column}" is replaced by the value of
 * that column (the exact column name, case and all, no quoting), formatted
 * with the column type's output function; "{{" and "}}" stand for literal
 * braces.  INSERT uses NEW, DELETE uses OLD, UPDATE both: the key from OLD
 * and the key from NEW are queued (once if they are the same), so changing
 * an email invalidates the old and the new email's entries.
 *	- A NULL column: the key that needs it is skipped for that row version
 *	  (there is no key for NULL); the other templates still apply.
 *	- A key that comes out invalid (empty, too long, a space or control
 *	  character, e.g. from a text column holding a space): ERROR, as for any
 *	  bad key, which aborts the statement.  Hash such values in a generated
 *	  column, or key on the primary key.
 *	- A template naming a column the table lacks: ERROR 42703 at the first
 *	  firing, naming the column and the table.  A malformed template (a "{"
 *	  not closed, a lone "}", "{}"): ERROR 22023 at the first firing.
 *	- FOR EACH ROW (BEFORE, AFTER or INSTEAD OF; AFTER is the one to use:
 *	  it sees the final row), or FOR EACH STATEMENT with the transition
 *	  tables its event needs (REFERENCING OLD TABLE / NEW TABLE, as
 *	  mc_invalidate_triggers() creates them): every row of them, with the
 *	  row form's semantics.
 * The templates are parsed and the columns resolved once per statement
 * (cached in fn_extra, keyed by trigger and relation: a trigger on a
 * partitioned table is cloned to each partition, whose columns may sit at
 * other positions), not once per row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/bytea.h"
#include "utils/datum.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/tuplestore.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "compat.h"
#include "inval.h"
#include "keys.h"

PG_FUNCTION_INFO_V1(pylibmc_pg_invalidate);

typedef struct TemplatePart
{
	const char *literal;		/* NULL for a column */
	int			len;			/* of the literal */
	AttrNumber	attnum;			/* for a column */
	Oid			typid;			/* the column's type, its storage, output */
	bool		typbyval;
	int16		typlen;
	FmgrInfo	outfn;
	bool		fast;			/* int2/4/8: no output function call */
} TemplatePart;

typedef struct KeyTemplate
{
	int			nparts;
	TemplatePart *parts;
} KeyTemplate;

typedef struct TriggerCache
{
	Oid			tgoid;
	Oid			relid;
	int			ntemplates;
	KeyTemplate *templates;
	int			settings;		/* PMC_FIX_*: the settings some column's
								 * text form follows */
} TriggerCache;

static void
template_syntax_error(const char *tmpl, const char *trigger, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid mc_invalidate key template \"%s\" in trigger \"%s\"",
					tmpl, trigger),
			 errdetail("%s", problem),
			 errhint("Write {column} for a column's value and {{ or }} for a literal brace.")));
}

static void
add_part(List **parts, const char *literal, int len, AttrNumber attnum)
{
	TemplatePart *p = palloc0(sizeof(TemplatePart));

	p->literal = literal;
	p->len = len;
	p->attnum = attnum;
	*parts = lappend(*parts, p);
}

/* Parse one template against the relation; in the cache's context */
static void
parse_template(const char *tmpl, Relation rel, const char *trigger,
			   MemoryContext cxt, KeyTemplate *out)
{
	TupleDesc	desc = RelationGetDescr(rel);
	List	   *parts = NIL;
	StringInfoData lit;
	const char *p = tmpl;
	int			i;
	ListCell   *lc;

	initStringInfo(&lit);
	while (*p)
	{
		if (p[0] == '{' && p[1] == '{')
		{
			appendStringInfoChar(&lit, '{');
			p += 2;
		}
		else if (p[0] == '}' && p[1] == '}')
		{
			appendStringInfoChar(&lit, '}');
			p += 2;
		}
		else if (p[0] == '}')
			template_syntax_error(tmpl, trigger, "A single \"}\" must be written \"}}\".");
		else if (p[0] == '{')
		{
			const char *end = strchr(p + 1, '}');
			char	   *name;
			AttrNumber	attnum = InvalidAttrNumber;

			if (end == NULL)
				template_syntax_error(tmpl, trigger, "A \"{\" is not closed by \"}\".");
			if (end == p + 1)
				template_syntax_error(tmpl, trigger, "\"{}\" names no column.");
			name = pnstrdup(p + 1, end - p - 1);
			for (i = 0; i < desc->natts; i++)
			{
				Form_pg_attribute att = TupleDescAttr(desc, i);

				if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
				{
					attnum = att->attnum;
					break;
				}
			}
			if (attnum == InvalidAttrNumber)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("column \"%s\" of relation \"%s\" does not exist",
								name, RelationGetRelationName(rel)),
						 errdetail("Key template \"%s\" of trigger \"%s\" names it.",
								   tmpl, trigger),
						 errhint("Column names in {} are matched exactly, case included.")));
			if (lit.len > 0)
			{
				add_part(&parts, MemoryContextStrdup(cxt, lit.data), lit.len, 0);
				resetStringInfo(&lit);
			}
			add_part(&parts, NULL, 0, attnum);
			p = end + 1;
		}
		else
			appendStringInfoChar(&lit, *p++);
	}
	if (lit.len > 0)
		add_part(&parts, MemoryContextStrdup(cxt, lit.data), lit.len, 0);

	out->nparts = list_length(parts);
	out->parts = MemoryContextAlloc(cxt, Max(out->nparts, 1) * sizeof(TemplatePart));
	i = 0;
	foreach(lc, parts)
	{
		TemplatePart *src = lfirst(lc);
		TemplatePart *dst = &out->parts[i++];

		*dst = *src;
		if (dst->literal == NULL)
		{
			Form_pg_attribute att = TupleDescAttr(desc, dst->attnum - 1);
			Oid			typoutput;
			bool		isvarlena;

			dst->typid = att->atttypid;
			dst->typbyval = att->attbyval;
			dst->typlen = att->attlen;
			getTypeOutputInfo(att->atttypid, &typoutput, &isvarlena);
			fmgr_info_cxt(typoutput, &dst->outfn, cxt);
			dst->fast = (dst->typid == INT2OID || dst->typid == INT4OID ||
						 dst->typid == INT8OID);
		}
	}
}

/* the settings a column's text form may follow (fix_output_settings) */
#define PMC_FIX_DATESTYLE		0x01
#define PMC_FIX_INTERVALSTYLE	0x02
#define PMC_FIX_FLOAT_DIGITS	0x04
#define PMC_FIX_BYTEA_OUTPUT	0x08
#define PMC_FIX_TIMEZONE		0x10
#define PMC_FIX_ALL				0x1f

/*
 * Which settings this type's text form follows.  The common key types
 * follow none; the date and time types, float and bytea follow theirs; any
 * other type (arrays, composites, ranges, types of extensions) may embed
 * any of them (a domain is looked through).
 */
static int
output_settings_of(Oid typid)
{
	switch (getBaseType(typid))
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
		case UUIDOID:
		case BOOLOID:
		case NUMERICOID:
		case JSONOID:
		case JSONBOID:
		case INETOID:
		case CIDROID:
		case MACADDROID:
			return 0;
		case DATEOID:
		case TIMEOID:
		case TIMETZOID:
		case TIMESTAMPOID:
			return PMC_FIX_DATESTYLE;
		case TIMESTAMPTZOID:
			return PMC_FIX_DATESTYLE | PMC_FIX_TIMEZONE;
		case INTERVALOID:
			return PMC_FIX_INTERVALSTYLE;
		case FLOAT4OID:
		case FLOAT8OID:
			return PMC_FIX_FLOAT_DIGITS;
		case BYTEAOID:
			return PMC_FIX_BYTEA_OUTPUT;
		default:
			return PMC_FIX_ALL;
	}
}

static TriggerCache *
trigger_cache(FunctionCallInfo fcinfo, TriggerData *td)
{
	TriggerCache *cache = (TriggerCache *) fcinfo->flinfo->fn_extra;
	Trigger    *tg = td->tg_trigger;
	Oid			relid = RelationGetRelid(td->tg_relation);
	MemoryContext cxt = fcinfo->flinfo->fn_mcxt;
	MemoryContext old;

	if (cache != NULL && cache->tgoid == tg->tgoid && cache->relid == relid)
		return cache;

	if (tg->tgnargs < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("trigger \"%s\" gives mc_invalidate() no key template", tg->tgname),
				 errhint("Pass key templates as arguments: EXECUTE FUNCTION mc_invalidate('user:{id}').")));

	old = MemoryContextSwitchTo(cxt);
	cache = palloc0(sizeof(TriggerCache));
	cache->ntemplates = tg->tgnargs;
	cache->templates = palloc0(tg->tgnargs * sizeof(KeyTemplate));
	for (int i = 0; i < tg->tgnargs; i++)
	{
		KeyTemplate *t = &cache->templates[i];

		parse_template(tg->tgargs[i], td->tg_relation, tg->tgname, cxt, t);
		for (int j = 0; j < t->nparts; j++)
			if (t->parts[j].literal == NULL)
				cache->settings |= output_settings_of(t->parts[j].typid);
	}
	cache->tgoid = tg->tgoid;
	cache->relid = relid;
	MemoryContextSwitchTo(old);
	/* a previous cache (another relation) stays in fn_mcxt until its end */
	fcinfo->flinfo->fn_extra = cache;
	return cache;
}

/*
 * Keys must not depend on the session that writes: a reader builds the
 * same key from the same value whatever its own settings.  While a trigger
 * formats a column whose text form follows a setting, the settings are
 * those pg_dump fixes, plus the time zone: DateStyle ISO, IntervalStyle
 * postgres, extra_float_digits 1 (the default: shortest exact form),
 * bytea_output hex, TimeZone UTC.  Only those the trigger's column types
 * follow, and only when they differ, are set, at a new GUC nesting level
 * (as postgres_fdw's set_transmission_modes), and undone right after; an
 * ERROR undoes them with the (sub)transaction.
 */
static int
fix_output_settings(int which)
{
	int			nestlevel = -1;
	bool		utc = true;

	if (which & PMC_FIX_TIMEZONE)
	{
		const char *tz = session_timezone ? pg_get_timezone_name(session_timezone) : NULL;

		utc = tz != NULL && strcmp(tz, "UTC") == 0;
	}
	if (!(which & PMC_FIX_DATESTYLE) || DateStyle == USE_ISO_DATES)
		which &= ~PMC_FIX_DATESTYLE;
	if (!(which & PMC_FIX_INTERVALSTYLE) || IntervalStyle == INTSTYLE_POSTGRES)
		which &= ~PMC_FIX_INTERVALSTYLE;
	if (!(which & PMC_FIX_FLOAT_DIGITS) || extra_float_digits == 1)
		which &= ~PMC_FIX_FLOAT_DIGITS;
	if (!(which & PMC_FIX_BYTEA_OUTPUT) || bytea_output == BYTEA_OUTPUT_HEX)
		which &= ~PMC_FIX_BYTEA_OUTPUT;
	if (utc)
		which &= ~PMC_FIX_TIMEZONE;
	if (which == 0)
		return -1;

	nestlevel = NewGUCNestLevel();
	if (which & PMC_FIX_DATESTYLE)
		(void) set_config_option("datestyle", "ISO", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	if (which & PMC_FIX_INTERVALSTYLE)
		(void) set_config_option("intervalstyle", "postgres", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	if (which & PMC_FIX_FLOAT_DIGITS)
		(void) set_config_option("extra_float_digits", "1", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	if (which & PMC_FIX_BYTEA_OUTPUT)
		(void) set_config_option("bytea_output", "hex", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	if (which & PMC_FIX_TIMEZONE)
		(void) set_config_option("timezone", "UTC", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

static void
restore_output_settings(int nestlevel)
{
	if (nestlevel >= 0)
		AtEOXact_GUC(true, nestlevel);
}

/*
 * A column's text form, as its output function writes it.  Integer keys
 * (the usual case) skip the fmgr call and its palloc, and are written
 * straight into buf: pg_ltoa and pg_lltoa are what int4out and int8out
 * use, and they return the length.
 */
static void
append_column_text(StringInfo buf, TemplatePart *p, Datum value)
{
	switch (p->typid)
	{
		case INT2OID:
			enlargeStringInfo(buf, MAXINT8LEN);
			buf->len += pmc_ltoa((int32) DatumGetInt16(value), buf->data + buf->len);
			break;
		case INT4OID:
			enlargeStringInfo(buf, MAXINT8LEN);
			buf->len += pmc_ltoa(DatumGetInt32(value), buf->data + buf->len);
			break;
		case INT8OID:
			enlargeStringInfo(buf, MAXINT8LEN);
			buf->len += pmc_lltoa(DatumGetInt64(value), buf->data + buf->len);
			break;
		default:
			appendStringInfoString(buf, OutputFunctionCall(&p->outfn, value));
			break;
	}
}

/*
 * Do two row versions give a template the same key?  True when every
 * column it uses is NULL in both or has the same bytes in both (the usual
 * UPDATE, which leaves the key columns alone); false may still mean equal
 * keys, which the caller then finds by comparing them.
 */
static bool
same_key_columns(KeyTemplate *t, TupleTableSlot *a, TupleTableSlot *b)
{
	for (int i = 0; i < t->nparts; i++)
	{
		TemplatePart *p = &t->parts[i];
		Datum		va,
					vb;
		bool		na,
					nb;

		if (p->literal != NULL)
			continue;
		va = slot_getattr(a, p->attnum, &na);
		vb = slot_getattr(b, p->attnum, &nb);
		if (na != nb)
			return false;
		if (!na && !datumIsEqual(va, vb, p->typbyval, p->typlen))
			return false;
	}
	return true;
}

/*
 * The key of one template for one row version, in UTF-8, or NULL when a
 * column it needs is NULL.  It may be buf's own data.
 */
static char *
build_key(KeyTemplate *t, TupleTableSlot *slot, StringInfo buf, size_t *len)
{
	char	   *utf8;

	resetStringInfo(buf);
	for (int i = 0; i < t->nparts; i++)
	{
		TemplatePart *p = &t->parts[i];
		Datum		value;
		bool		isnull;

		if (p->literal != NULL)
		{
			appendBinaryStringInfo(buf, p->literal, p->len);
			continue;
		}
		value = slot_getattr(slot, p->attnum, &isnull);
		if (isnull)
			return NULL;
		append_column_text(buf, p, value);
	}
	/* (in a UTF-8 database, buf itself: valid until buf is reused) */
	utf8 = pmc_server_to_utf8(buf->data, buf->len, len);
	pmc_check_key(utf8, *len);
	return utf8;
}

/*
 * Queue the keys of one row change: old and/or new version (NULL when the
 * event has none).  Same semantics for row and statement level.
 */
static void
queue_row_keys(TriggerCache *cache, TupleTableSlot *oldslot, TupleTableSlot *newslot,
			   StringInfo buf, int config)
{
	for (int i = 0; i < cache->ntemplates; i++)
	{
		KeyTemplate *t = &cache->templates[i];
		char	   *oldkey = NULL;
		char	   *newkey = NULL;
		size_t		oldlen = 0;
		size_t		newlen = 0;

		if (oldslot != NULL)
			oldkey = build_key(t, oldslot, buf, &oldlen);
		if (oldkey != NULL)
			pmc_inval_queue(oldkey, oldlen, config);
		if (newslot == NULL ||
			(oldslot != NULL && same_key_columns(t, oldslot, newslot)))
			continue;
		/* the old key may live in buf, which the new one reuses */
		if (oldkey != NULL && oldkey == buf->data)
			oldkey = pnstrdup(oldkey, oldlen);
		newkey = build_key(t, newslot, buf, &newlen);
		if (newkey != NULL &&
			!(oldkey != NULL && oldlen == newlen && memcmp(oldkey, newkey, newlen) == 0))
			pmc_inval_queue(newkey, newlen, config);
	}
}

/* Read a transition table from its start, through a read pointer of ours */
static void
transition_table_start(Tuplestorestate *ts)
{
	int			ptr = tuplestore_alloc_read_pointer(ts, EXEC_FLAG_REWIND);

	tuplestore_select_read_pointer(ts, ptr);
	tuplestore_rescan(ts);
}

/*
 * FOR EACH STATEMENT with transition tables: every row of OLD TABLE and
 * NEW TABLE, as the row form would see them.  For an UPDATE the two tables
 * hold the old and new versions of each row at the same position, so they
 * are read side by side (an unchanged key is built once).  Both are read
 * even when the UPDATE set no template column: tg_updatedcols cannot say
 * that for every row, since two UPDATEs of one table in one query (WITH)
 * share its transition tables and fire the trigger once, with the columns
 * of only one of them.
 */
static void
queue_statement_keys(TriggerData *td, TriggerCache *cache, StringInfo buf, int config)
{
	Tuplestorestate *oldtable = NULL;
	Tuplestorestate *newtable = NULL;
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	TupleTableSlot *oldslot = NULL;
	TupleTableSlot *newslot = NULL;
	MemoryContext rowcxt;
	MemoryContext old;

	if (TRIGGER_FIRED_BY_DELETE(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		oldtable = td->tg_oldtable;
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		newtable = td->tg_newtable;
	if ((TRIGGER_FIRED_BY_DELETE(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event)) &&
		oldtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("statement-level trigger \"%s\" gives mc_invalidate() no OLD TABLE",
						td->tg_trigger->tgname),
				 errhint("Create it with REFERENCING OLD TABLE AS o%s, or use mc_invalidate_triggers().",
						 TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? " NEW TABLE AS n" : "")));
	if ((TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event)) &&
		newtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("statement-level trigger \"%s\" gives mc_invalidate() no NEW TABLE",
						td->tg_trigger->tgname),
				 errhint("Create it with REFERENCING %sNEW TABLE AS n, or use mc_invalidate_triggers().",
						 TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? "OLD TABLE AS o " : "")));

	if (oldtable != NULL)
	{
		oldslot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
		transition_table_start(oldtable);
	}
	if (newtable != NULL)
	{
		newslot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
		transition_table_start(newtable);
	}

	/* what a row's keys allocate goes with the row */
	rowcxt = AllocSetContextCreate(CurrentMemoryContext,
								   "pylibmc_pg mc_invalidate row",
								   ALLOCSET_SMALL_SIZES);
	for (;;)
	{
		bool		have_old = false;
		bool		have_new = false;

		CHECK_FOR_INTERRUPTS();
		if (oldtable != NULL)
			have_old = tuplestore_gettupleslot(oldtable, true, false, oldslot);
		if (newtable != NULL)
			have_new = tuplestore_gettupleslot(newtable, true, false, newslot);
		if (!have_old && !have_new)
			break;
		old = MemoryContextSwitchTo(rowcxt);
		queue_row_keys(cache, have_old ? oldslot : NULL, have_new ? newslot : NULL,
					   buf, config);
		MemoryContextSwitchTo(old);
		MemoryContextReset(rowcxt);
	}
	MemoryContextDelete(rowcxt);
	if (oldslot != NULL)
		ExecDropSingleTupleTableSlot(oldslot);
	if (newslot != NULL)
		ExecDropSingleTupleTableSlot(newslot);
}

/* Errors in the trigger name it and its table (CONTEXT) */
static void
trigger_error_context(void *arg)
{
	TriggerData *td = (TriggerData *) arg;

	errcontext("mc_invalidate() in trigger \"%s\" on table \"%s\"",
			   td->tg_trigger->tgname, RelationGetRelationName(td->tg_relation));
}

Datum
pylibmc_pg_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TriggerCache *cache;
	TupleTableSlot *oldslot = NULL;
	TupleTableSlot *newslot = NULL;
	HeapTuple	result;
	StringInfoData buf;
	int			config;
	int			nestlevel;
	ErrorContextCallback errcallback;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mc_invalidate() was not called by the trigger manager"),
				 errhint("Use it in CREATE TRIGGER ... EXECUTE FUNCTION mc_invalidate('key:{column}'); call mc_delete_on_commit() directly otherwise.")));

	errcallback.callback = trigger_error_context;
	errcallback.arg = td;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		newslot = td->tg_trigslot;
		result = td->tg_trigtuple;
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		oldslot = td->tg_trigslot;
		newslot = td->tg_newslot;
		result = td->tg_newtuple;
	}
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		oldslot = td->tg_trigslot;
		result = td->tg_trigtuple;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mc_invalidate() must be fired by INSERT, UPDATE or DELETE")));

	cache = trigger_cache(fcinfo, td);
	config = pmc_inval_config();
	initStringInfo(&buf);
	nestlevel = cache->settings ? fix_output_settings(cache->settings) : -1;
	if (TRIGGER_FIRED_FOR_ROW(td->tg_event))
	{
		/* a BEFORE or INSTEAD OF trigger's slots may not be filled */
		if (oldslot != NULL && TupIsNull(oldslot))
			ExecForceStoreHeapTuple(td->tg_trigtuple, oldslot, false);
		queue_row_keys(cache, oldslot, newslot != NULL && TupIsNull(newslot) ? NULL : newslot,
					   &buf, config);
	}
	else
	{
		queue_statement_keys(td, cache, &buf, config);
		result = NULL;
	}
	restore_output_settings(nestlevel);
	pfree(buf.data);

	error_context_stack = errcallback.previous;
	return PointerGetDatum(result);
}
