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
 *	- It must be fired FOR EACH ROW (BEFORE, AFTER or INSTEAD OF; AFTER is
 *	  the one to use: it sees the final row).  Statement-level firing is an
 *	  error.
 * The templates are parsed and the columns resolved once per statement
 * (cached in fn_extra, keyed by trigger and relation: a trigger on a
 * partitioned table is cloned to each partition, whose columns may sit at
 * other positions), not once per row.
 *
 *-------------------------------------------------------------------------
 */
#include "pylibmc_pg.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

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
		}
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
		parse_template(tg->tgargs[i], td->tg_relation, tg->tgname, cxt,
					   &cache->templates[i]);
	cache->tgoid = tg->tgoid;
	cache->relid = relid;
	MemoryContextSwitchTo(old);
	/* a previous cache (another relation) stays in fn_mcxt until its end */
	fcinfo->flinfo->fn_extra = cache;
	return cache;
}

/*
 * A column's text form, as its output function writes it.  Integer keys
 * (the usual case) skip the fmgr call and its palloc: pg_ltoa and
 * pg_lltoa are what int4out and int8out use.
 */
static void
append_column_text(StringInfo buf, TemplatePart *p, Datum value)
{
	char		digits[MAXINT8LEN + 1];

	switch (p->typid)
	{
		case INT2OID:
			pg_ltoa((int32) DatumGetInt16(value), digits);
			break;
		case INT4OID:
			pg_ltoa(DatumGetInt32(value), digits);
			break;
		case INT8OID:
			pg_lltoa(DatumGetInt64(value), digits);
			break;
		default:
			appendStringInfoString(buf, OutputFunctionCall(&p->outfn, value));
			return;
	}
	appendStringInfoString(buf, digits);
}

/*
 * Do two row versions give a template the same key?  True when every
 * column it uses is NULL in both or has the same bytes in both (the usual
 * UPDATE, which leaves the key columns alone); false may still mean equal
 * keys, which the caller then finds by comparing them.
 */
static bool
same_key_columns(KeyTemplate *t, HeapTuple a, HeapTuple b, TupleDesc desc)
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
		va = heap_getattr(a, p->attnum, desc, &na);
		vb = heap_getattr(b, p->attnum, desc, &nb);
		if (na != nb)
			return false;
		if (!na && !datumIsEqual(va, vb, p->typbyval, p->typlen))
			return false;
	}
	return true;
}

/*
 * The key of one template for one row version, in UTF-8, or NULL when a
 * column it needs is NULL.
 */
static char *
build_key(KeyTemplate *t, HeapTuple tuple, TupleDesc desc, StringInfo buf, size_t *len)
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
		value = heap_getattr(tuple, p->attnum, desc, &isnull);
		if (isnull)
			return NULL;
		append_column_text(buf, p, value);
	}
	utf8 = pg_server_to_any(buf->data, buf->len, PG_UTF8);
	*len = (utf8 == buf->data) ? (size_t) buf->len : strlen(utf8);
	if (utf8 == buf->data)
		utf8 = pnstrdup(buf->data, buf->len);
	pmc_check_key(utf8, *len);
	return utf8;
}

Datum
pylibmc_pg_invalidate(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TriggerCache *cache;
	TupleDesc	desc;
	HeapTuple	oldtuple = NULL;
	HeapTuple	newtuple = NULL;
	HeapTuple	result;
	StringInfoData buf;
	int			config;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mc_invalidate() was not called by the trigger manager"),
				 errhint("Use it in CREATE TRIGGER ... FOR EACH ROW EXECUTE FUNCTION mc_invalidate('key:{column}'); call mc_delete_on_commit() directly otherwise.")));
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mc_invalidate() must be fired FOR EACH ROW"),
				 errdetail("Trigger \"%s\" is a statement-level trigger.", td->tg_trigger->tgname)));

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		newtuple = td->tg_trigtuple;
		result = newtuple;
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		oldtuple = td->tg_trigtuple;
		newtuple = td->tg_newtuple;
		result = newtuple;
	}
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		oldtuple = td->tg_trigtuple;
		result = oldtuple;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mc_invalidate() must be fired by INSERT, UPDATE or DELETE")));

	cache = trigger_cache(fcinfo, td);
	config = pmc_inval_config();
	desc = RelationGetDescr(td->tg_relation);
	initStringInfo(&buf);
	for (int i = 0; i < cache->ntemplates; i++)
	{
		KeyTemplate *t = &cache->templates[i];
		char	   *oldkey = NULL;
		char	   *newkey = NULL;
		size_t		oldlen = 0;
		size_t		newlen = 0;

		if (oldtuple != NULL)
			oldkey = build_key(t, oldtuple, desc, &buf, &oldlen);
		if (oldkey != NULL)
			pmc_inval_queue(oldkey, oldlen, config);
		if (newtuple == NULL ||
			(oldtuple != NULL && same_key_columns(t, oldtuple, newtuple, desc)))
			continue;
		newkey = build_key(t, newtuple, desc, &buf, &newlen);
		if (newkey != NULL &&
			!(oldkey != NULL && oldlen == newlen && memcmp(oldkey, newkey, newlen) == 0))
			pmc_inval_queue(newkey, newlen, config);
	}
	pfree(buf.data);

	return PointerGetDatum(result);
}
