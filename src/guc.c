/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  The pylibmc_pg.* settings.
 *
 * Every setting is checked in its check hook (a bad value is refused at
 * SET time, with a detail naming the bad part), parsed once into the
 * hook's "extra", and stored by the assign hook, which only bumps
 * pmc_settings_generation: no network I/O happens in a hook, and no hook
 * calls up into the client.  client.c compares the generation at its next
 * call and rebuilds the client only if the configuration really changed.
 *
 * Who may set what (see README.md, "Security"): everything that decides
 * where the backend connects and with which credentials is PGC_SUSET, so
 * only superusers, or roles granted SET on the parameter, can change it;
 * the password is also GUC_SUPERUSER_ONLY, hidden from everybody else.
 * on_error only changes how failures are reported, so any role may set it.
 * password_file is PGC_SIGHUP: only the server's configuration names it.
 *
 * Every setting the client is built from has an "extra" that starts with
 * a PmcGucExtra header, which records two things the checks learn from
 * the GucSource (the GUC machinery keeps each extra with its value, so
 * they follow SET, RESET, SET LOCAL and rollbacks exactly):
 *
 * - refused: a stored value (postgresql.conf, ALTER ROLE/DATABASE ... SET,
 *   or any value set before the library was loaded) that the check
 *   refuses is accepted but poisoned, instead of being dropped with a
 *   WARNING while the session goes on with the default (fail closed):
 *   pmc_check_settings_usable() then refuses every call, naming the
 *   setting and the source, until a valid value replaces it;
 * - role_chosen: the value was chosen by a role that may not read the
 *   password, or may have been (value_setter(): from PostgreSQL 15 on, a
 *   value stored with ALTER ROLE or ALTER DATABASE has no known author);
 *   credentials.c refuses to send SASL credentials to servers chosen so.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "utils/guc.h"
#if PG_VERSION_NUM >= 150000
/* only for inspect_placeholder(): see there why */
#include "utils/guc_tables.h"
#endif

#include "settings.h"

PmcServerList *pmc_server_list = NULL;
PmcBehaviorList *pmc_behavior_list = NULL;
bool		pmc_binary = false;
char	   *pmc_username = NULL;
char	   *pmc_password = NULL;
char	   *pmc_namespace = NULL;
char	   *pmc_password_file = NULL;
int			pmc_on_error = PMC_ON_ERROR_ERROR;
int			pmc_invalidation_hold = 0;
int			pmc_lease_wait = 500;
int			pmc_cluster_stats_max = 5000;
bool		pmc_invalidation_log = false;
char	   *pmc_invalidation_log_databases = NULL;
int			pmc_invalidation_log_max_age = 0;
uint64		pmc_settings_generation = 1;

static char *servers_string = NULL;
static char *behaviors_string = NULL;

/* the header of every "extra" below; the parsed value, if any, follows */
typedef struct PmcGucExtra
{
	bool		refused;		/* a stored value the check refused */
	bool		role_chosen;	/* chosen by a role that may not read the
								 * password */
	GucSource	source;
	char		reason[256];	/* why it was refused (a detail sentence) */
} PmcGucExtra;

#define EXTRA_HEADER_SIZE	MAXALIGN(sizeof(PmcGucExtra))
#define EXTRA_PAYLOAD(e)	((void *) ((char *) (e) + EXTRA_HEADER_SIZE))

/* The settings whose refusal is remembered, in pmc_check_settings_usable()'s order */
typedef enum PmcCheckedGuc
{
	PMC_GUC_SERVERS,
	PMC_GUC_BEHAVIORS,
	PMC_GUC_NAMESPACE,
	PMC_GUC_PASSWORD_FILE,
	PMC_NUM_CHECKED_GUCS
} PmcCheckedGuc;

static const char *const checked_guc_names[PMC_NUM_CHECKED_GUCS] = {
	"pylibmc_pg.servers",
	"pylibmc_pg.behaviors",
	"pylibmc_pg.namespace",
	"pylibmc_pg.password_file"
};

/* the current value's extra of each; valid while that value is current */
static const PmcGucExtra *current_extra[PMC_NUM_CHECKED_GUCS];
static const PmcGucExtra *password_extra = NULL;

/* true while _PG_init() defines the settings (placeholders are re-applied) */
static bool defining_gucs = false;

/*
 * While a setting is defined: were all the values of its placeholder set
 * while a superuser was the current user?  (PostgreSQL 15 records that
 * role; before 15 a placeholder's value for a superuser-only setting was
 * only re-applied when a superuser had set it.)
 */
static bool placeholder_set_by_superuser = true;

static const struct config_enum_entry on_error_options[] = {
	{"error", PMC_ON_ERROR_ERROR, false},
	{"warning", PMC_ON_ERROR_WARNING, false},
	{"ignore", PMC_ON_ERROR_IGNORE, false},
	{NULL, 0, false}
};

/*
 * A stored value is one the session did not choose when it ran the
 * statement that set it: it was applied at session start (postgresql.conf,
 * ALTER SYSTEM, ALTER ROLE/DATABASE ... SET, the command line), or was set
 * before the library was loaded and is re-applied now.  PostgreSQL only
 * WARNs when such a value fails its check and keeps the previous one,
 * usually the default: we accept it poisoned instead.
 */
static bool
is_stored_source(GucSource source)
{
	if (defining_gucs)
		return true;
	switch (source)
	{
		case PGC_S_FILE:

			/*
			 * The configuration file is processed outside transactions;
			 * inside one, this is ALTER SYSTEM (or pg_file_settings)
			 * checking a value, which must be refused.
			 */
			return !IsTransactionState();
		case PGC_S_ARGV:
		case PGC_S_GLOBAL:
		case PGC_S_DATABASE:
		case PGC_S_USER:
		case PGC_S_DATABASE_USER:
		case PGC_S_CLIENT:
			return true;
		default:
			return false;
	}
}

/*
 * Who set this value?  PMC_SETTER_SUPERUSER: a superuser, or the server's
 * own configuration; PMC_SETTER_ROLE: a role that is not a superuser;
 * PMC_SETTER_UNKNOWN: it cannot be told.  Each caller resolves the unknown
 * case to its own safe side (accept_value()).
 *
 * - postgresql.conf, ALTER SYSTEM, the command line, the defaults: the
 *   server's configuration.  ALTER ROLE ALL ... SET (PGC_S_GLOBAL): only a
 *   superuser may run it.
 * - ALTER DATABASE, ALTER ROLE [IN DATABASE] ... SET (PGC_S_DATABASE,
 *   PGC_S_USER, PGC_S_DATABASE_USER): from PostgreSQL 15 on, a role that
 *   is not a superuser may have stored it while it held SET on the
 *   parameter (GRANT SET ON PARAMETER), as the database's owner or for
 *   itself; pg_db_role_setting does not record who did, and the grant may
 *   be gone now, so the setter is unknown whatever the grants are now.
 *   Before 15 only superusers could store a value of a PGC_SUSET setting
 *   (or of a placeholder).
 * - SET, SET LOCAL, set_config(), a function's SET clause, the
 *   connection's options: the current user when it was set.  A value set
 *   before the library was loaded: whoever set the placeholder's values
 *   (inspect_placeholder()).  Without catalog access, unknown.
 */
typedef enum PmcSetter
{
	PMC_SETTER_SUPERUSER,
	PMC_SETTER_ROLE,
	PMC_SETTER_UNKNOWN
} PmcSetter;

static PmcSetter
value_setter(GucSource source)
{
	switch (source)
	{
		case PGC_S_DEFAULT:
		case PGC_S_DYNAMIC_DEFAULT:
		case PGC_S_ENV_VAR:
		case PGC_S_FILE:
		case PGC_S_ARGV:
		case PGC_S_GLOBAL:
		case PGC_S_OVERRIDE:
		case PGC_S_TEST:		/* only checked, never used */
			return PMC_SETTER_SUPERUSER;
		case PGC_S_DATABASE:
		case PGC_S_USER:
		case PGC_S_DATABASE_USER:
#if PG_VERSION_NUM >= 150000
			return PMC_SETTER_UNKNOWN;
#else
			return PMC_SETTER_SUPERUSER;
#endif
		default:
			break;
	}
	if (!IsTransactionState() || !OidIsValid(GetUserId()))
		return PMC_SETTER_UNKNOWN;
	if (defining_gucs)
	{
		if (!placeholder_set_by_superuser)
			return PMC_SETTER_ROLE;
		return superuser() ? PMC_SETTER_SUPERUSER : PMC_SETTER_UNKNOWN;
	}
	return superuser() ? PMC_SETTER_SUPERUSER : PMC_SETTER_ROLE;
}

/*
 * Was this value chosen by a role that may not read the password?  For
 * the servers, a value whose setter is unknown counts as such a role's
 * (credentials are not sent there); for the password, it does not (it is
 * treated as a secret the role does not know, so it is not sent to servers
 * a role chose).
 */
static bool
chosen_by_role(const char *name, GucSource source)
{
	PmcSetter	setter = value_setter(source);

	if (strcmp(name, "pylibmc_pg.password") == 0)
		return setter == PMC_SETTER_ROLE;
	return setter != PMC_SETTER_SUPERUSER;
}

/* A new extra: the header, zeroed, and payload_size bytes after it */
static PmcGucExtra *
new_extra(size_t payload_size)
{
	PmcGucExtra *e = pmc_guc_alloc_raw(EXTRA_HEADER_SIZE + payload_size);

	if (e != NULL)
		memset(e, 0, EXTRA_HEADER_SIZE);
	return e;
}

/*
 * The parsers allocate their one result with this: it goes after a
 * header, and the whole is the extra (the header first, for the GUC
 * machinery frees the extra itself).
 */
static PmcGucExtra *parsed_extra = NULL;

static void *
alloc_after_header(size_t size)
{
	parsed_extra = new_extra(size);
	return parsed_extra ? EXTRA_PAYLOAD(parsed_extra) : NULL;
}

/* The parsers' messages, as a detail sentence: capitalized, with a period */
static void
capitalize_detail(char *msg, char *out, size_t outlen)
{
	msg[0] = toupper((unsigned char) msg[0]);
	snprintf(out, outlen, "%s.", msg);
}

/*
 * A value the check refuses: an error for an interactive SET (the GUC
 * machinery raises it), or, for a stored value, accepted and poisoned.
 */
static bool
refuse_value(void **extra, GucSource source, const char *detail, const char *hint)
{
	PmcGucExtra *e;

	if (!is_stored_source(source))
	{
		GUC_check_errdetail("%s", detail);
		if (hint)
			GUC_check_errhint("%s", hint);
		return false;
	}
	e = new_extra(0);
	if (e == NULL)
		return false;
	e->refused = true;
	/* a SET made before the library was loaded, re-applied now */
	e->source = (source == PGC_S_SESSION) ? PGC_S_INTERACTIVE : source;
	snprintf(e->reason, sizeof(e->reason), "%s", detail);
	*extra = e;
	return true;
}

/* An accepted value's extra, if the check did not make one */
static bool
accept_value(const char *name, void **extra, GucSource source)
{
	PmcGucExtra *e = (PmcGucExtra *) *extra;

	if (e == NULL)
	{
		e = new_extra(0);
		if (e == NULL)
			return false;
		*extra = e;
	}
	e->source = source;
	e->role_chosen = chosen_by_role(name, source);
	return true;
}

/* A setting the client is built from changed: the client compares at its next call */
static inline void
settings_changed(void)
{
	pmc_settings_generation++;
}

static void
remember_extra(PmcCheckedGuc which, void *extra)
{
	current_extra[which] = (const PmcGucExtra *) extra;
	settings_changed();
}

#define SERVERS_HINT "Write a comma-separated list of \"host\", \"host:port\", \"host:port:weight\", \"[ipv6]:port\", \"udp:host:port\" or \"/path/to/socket\" entries."

static bool
check_servers(char **newval, void **extra, GucSource source)
{
	char		errbuf[512];
	char		detail[520];
	PmcServerList *list;

	parsed_extra = NULL;
	list = pmc_parse_servers(*newval, alloc_after_header, errbuf, sizeof(errbuf));
	if (list == NULL)
	{
		if (parsed_extra)
			pmc_guc_free_raw(parsed_extra);
		capitalize_detail(errbuf, detail, sizeof(detail));
		return refuse_value(extra, source, detail, SERVERS_HINT);
	}
	*extra = parsed_extra;
	return accept_value("pylibmc_pg.servers", extra, source);
}

static void
assign_servers(const char *newval, void *extra)
{
	PmcGucExtra *e = (PmcGucExtra *) extra;

	pmc_server_list = (e == NULL || e->refused) ? NULL :
		(PmcServerList *) EXTRA_PAYLOAD(e);
	remember_extra(PMC_GUC_SERVERS, extra);
}

/*
 * Apply pylibmc_pg.behaviors' libmemcached behaviors to mc, in order (the
 * pylibmc-only ones are skipped).  On a refusal, returns libmemcached's
 * result and sets *refused to the setting; the ones before it are applied.
 * No I/O: used on a scratch client by check_behaviors() and on the real
 * one by client.c.
 */
memcached_return_t
pmc_apply_behaviors(memcached_st *mc, const PmcBehaviorList *list,
					const PmcBehaviorSetting **refused)
{
	for (int i = 0; i < list->nsettings; i++)
	{
		const PmcBehaviorSetting *s = &list->settings[i];
		memcached_return_t rc;

		if (s->id == PMC_BEHAVIOR_PYLIBMC_ONLY)
			continue;
		rc = memcached_behavior_set(mc, (memcached_behavior_t) s->id, (uint64_t) s->value);
		if (rc != MEMCACHED_SUCCESS)
		{
			*refused = s;
			return rc;
		}
	}
	return MEMCACHED_SUCCESS;
}

/*
 * Besides the syntax, let libmemcached itself accept each value, on a
 * scratch client with no servers (no I/O): some values it refuses, such
 * as the hsieh hash when it was built without it.
 */
static bool
check_behaviors(char **newval, void **extra, GucSource source)
{
	char		errbuf[512];
	char		detail[520];
	PmcBehaviorList *list;
	memcached_st *scratch;

	parsed_extra = NULL;
	list = pmc_parse_behaviors(*newval, alloc_after_header, errbuf, sizeof(errbuf));
	if (list == NULL)
	{
		if (parsed_extra)
			pmc_guc_free_raw(parsed_extra);
		capitalize_detail(errbuf, detail, sizeof(detail));
		return refuse_value(extra, source, detail,
					  "Write a comma-separated list of name=value pairs with pylibmc's behavior names, such as \"tcp_nodelay=true, ketama=true, connect_timeout=500\".");
	}

	scratch = memcached_create(NULL);
	if (scratch != NULL)
	{
		const PmcBehaviorSetting *refused;
		memcached_return_t rc;

		rc = pmc_apply_behaviors(scratch, list, &refused);
		if (rc != MEMCACHED_SUCCESS)
		{
			snprintf(detail, sizeof(detail),
					 "libmemcached refuses behavior \"%s\" = %lld: %s.",
					 pmc_behavior_name(refused->id),
					 (long long) refused->value,
					 memcached_strerror(scratch, rc));
			memcached_free(scratch);
			pmc_guc_free_raw(parsed_extra);
			return refuse_value(extra, source, detail, NULL);
		}
		memcached_free(scratch);
	}
	*extra = parsed_extra;
	return accept_value("pylibmc_pg.behaviors", extra, source);
}

static void
assign_behaviors(const char *newval, void *extra)
{
	PmcGucExtra *e = (PmcGucExtra *) extra;

	pmc_behavior_list = (e == NULL || e->refused) ? NULL :
		(PmcBehaviorList *) EXTRA_PAYLOAD(e);
	remember_extra(PMC_GUC_BEHAVIORS, extra);
}

/*
 * A namespace is prefixed to every key (libmemcached's namespace), so it
 * obeys the key rules: printable ASCII without spaces, at most 127 bytes.
 */
static bool
check_namespace(char **newval, void **extra, GucSource source)
{
	const unsigned char *p;

	if (*newval == NULL)
		return accept_value("pylibmc_pg.namespace", extra, source);
	/* libmemcached's own limit is 127 bytes */
	if (strlen(*newval) > 127)
		return refuse_value(extra, source, "A namespace is at most 127 bytes long.", NULL);
	/* libmemcached checks namespaces as ASCII keys, whatever the protocol */
	for (p = (const unsigned char *) *newval; *p; p++)
	{
		if (*p <= ' ' || *p >= 0x7f)
			return refuse_value(extra, source,
						  "A namespace can only contain printable ASCII characters other than space.",
						  NULL);
	}
	return accept_value("pylibmc_pg.namespace", extra, source);
}

static void
assign_namespace(const char *newval, void *extra)
{
	remember_extra(PMC_GUC_NAMESPACE, extra);
}

/* No check beyond remembering who chose the password (credentials.c) */
static bool
check_password(char **newval, void **extra, GucSource source)
{
	return accept_value("pylibmc_pg.password", extra, source);
}

static void
assign_password(const char *newval, void *extra)
{
	password_extra = (const PmcGucExtra *) extra;
	settings_changed();
}

/*
 * The file itself is read when the client is built (credentials.c): here
 * only the name is checked, with no I/O.
 */
static bool
check_password_file(char **newval, void **extra, GucSource source)
{
	if (*newval != NULL && (*newval)[0] != '\0' && !is_absolute_path(*newval))
		return refuse_value(extra, source, "The password file must be named by an absolute path.", NULL);
	return accept_value("pylibmc_pg.password_file", extra, source);
}

static void
assign_password_file(const char *newval, void *extra)
{
	remember_extra(PMC_GUC_PASSWORD_FILE, extra);
}

/*
 * GUC_SUPERUSER_ONLY still lets members of pg_read_all_settings (and so of
 * pg_monitor) read a setting; the password is for superusers only.
 */
static const char *
show_password(void)
{
	if (pmc_password == NULL || pmc_password[0] == '\0')
		return "";
	return superuser() ? pmc_password : "********";
}

static void
assign_changes_string(const char *newval, void *extra)
{
	settings_changed();
}

static void
assign_changes_bool(bool newval, void *extra)
{
	settings_changed();
}

/* the words a message uses for where a refused value came from */
static const char *
source_name(GucSource source)
{
	switch (source)
	{
		case PGC_S_FILE:
			return "the configuration file (postgresql.conf or ALTER SYSTEM)";
		case PGC_S_ARGV:
			return "the server's command line";
		case PGC_S_GLOBAL:
			return "ALTER ROLE ALL ... SET";
		case PGC_S_DATABASE:
			return "ALTER DATABASE ... SET";
		case PGC_S_USER:
			return "ALTER ROLE ... SET";
		case PGC_S_DATABASE_USER:
			return "ALTER ROLE ... IN DATABASE ... SET";
		case PGC_S_CLIENT:
			return "the connection's options";
		case PGC_S_INTERACTIVE:
			return "a SET made before pylibmc_pg was loaded";
		default:
			return "a stored setting";
	}
}

/*
 * Before any exchange: ERROR if the current value of a setting is a stored
 * value its check refused (see refuse_value()).
 */
void
pmc_check_settings_usable(void)
{
	for (int i = 0; i < PMC_NUM_CHECKED_GUCS; i++)
	{
		const PmcGucExtra *e = current_extra[i];

		if (e != NULL && e->refused)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for parameter \"%s\" from %s",
							checked_guc_names[i], source_name(e->source)),
					 errdetail("%s", e->reason),
					 errhint("Fix or remove that setting, or SET a valid value in this session; nothing is sent to memcached until then.")));
	}
}

bool
pmc_servers_chosen_by_role(void)
{
	const PmcGucExtra *e = current_extra[PMC_GUC_SERVERS];

	return e != NULL && e->role_chosen;
}

bool
pmc_password_chosen_by_role(void)
{
	return password_extra != NULL && password_extra->role_chosen;
}

/*
 * Before a setting is defined: look at the placeholder PostgreSQL made for
 * a value set before the library was loaded, and note whether a superuser
 * set each of its values (placeholder_set_by_superuser).
 *
 * Whether there is a placeholder is public (GetConfigOptionFlags()); who
 * set its values is not: PostgreSQL has no API for the role that set a
 * setting's value (srole, since 15) nor for its stacked values (GucStack).
 * So this one function reads guc_tables.h's config_generic and GucStack,
 * whose fields it uses are the same from 15 to 18; before 15 there is no
 * srole, and a placeholder's value for a superuser-only setting was only
 * re-applied when a superuser had set it.
 */
static void
inspect_placeholder(const char *name)
{
#if PG_VERSION_NUM >= 150000
	struct config_generic *gen = NULL;

	placeholder_set_by_superuser = true;
	if (!IsTransactionState())
		return;					/* preloading: no session set anything */
	if (!(GetConfigOptionFlags(name, true) & GUC_CUSTOM_PLACEHOLDER))
		return;
#if PG_VERSION_NUM >= 160000
	gen = find_option(name, false, true, DEBUG1);
#else
	{
		struct config_generic **vars = get_guc_variables();
		int			n = GetNumConfigOptions();

		for (int i = 0; i < n; i++)
		{
			if (pg_strcasecmp(vars[i]->name, name) == 0)
			{
				gen = vars[i];
				break;
			}
		}
	}
#endif
	if (gen == NULL || !(gen->flags & GUC_CUSTOM_PLACEHOLDER))
		return;
	/* InvalidOid: no value was set there (a placeholder's reset value) */
#define SET_BY_OTHER(role) (OidIsValid(role) && !superuser_arg(role))
	if (SET_BY_OTHER(gen->srole) || SET_BY_OTHER(gen->reset_srole))
		placeholder_set_by_superuser = false;
	for (GucStack *stack = gen->stack; stack != NULL; stack = stack->prev)
	{
		if (SET_BY_OTHER(stack->srole) || SET_BY_OTHER(stack->masked_srole))
			placeholder_set_by_superuser = false;
	}
#undef SET_BY_OTHER
#else
	placeholder_set_by_superuser = true;
#endif
}

/*
 * pylibmc_pg.invalidation_log: the logical messages it writes need
 * wal_level = logical (fixed at server start).
 */
static bool
check_invalidation_log(bool *newval, void **extra, GucSource source)
{
	if (*newval && wal_level < WAL_LEVEL_LOGICAL)
	{
		GUC_check_errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE);
		GUC_check_errmsg("pylibmc_pg.invalidation_log requires wal_level = logical");
		GUC_check_errdetail("wal_level is \"%s\".", GetConfigOption("wal_level", false, false));
		GUC_check_errhint("Set wal_level = logical in postgresql.conf and restart the server.");
		return false;
	}
	return true;
}

void
pmc_define_gucs(void)
{
	defining_gucs = true;
	inspect_placeholder("pylibmc_pg.servers");
	DefineCustomStringVariable("pylibmc_pg.servers",
							   "Memcached servers to use, as pylibmc's Client(servers).",
							   "A comma-separated list of host, host:port, host:port:weight, [ipv6]:port, udp:host:port or /socket/path.",
							   &servers_string,
							   "127.0.0.1:11211",
							   PGC_SUSET,
							   0,
							   check_servers, assign_servers, NULL);

	DefineCustomBoolVariable("pylibmc_pg.binary_protocol",
							 "Use memcached's binary protocol, as pylibmc's binary=True.",
							 NULL,
							 &pmc_binary,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, assign_changes_bool, NULL);

	DefineCustomStringVariable("pylibmc_pg.username",
							   "SASL user name (requires pylibmc_pg.binary_protocol).",
							   NULL,
							   &pmc_username,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, assign_changes_string, NULL);

	inspect_placeholder("pylibmc_pg.password");
	DefineCustomStringVariable("pylibmc_pg.password",
							   "SASL password (requires pylibmc_pg.binary_protocol).",
							   "Visible to superusers only.",
							   &pmc_password,
							   "",
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   check_password, assign_password, show_password);

	DefineCustomStringVariable("pylibmc_pg.password_file",
							   "File holding the SASL password, instead of pylibmc_pg.password.",
							   "An absolute path; the file must be owned by the server's operating system user and not readable by group or others. The password is its first line.",
							   &pmc_password_file,
							   "",
							   PGC_SIGHUP,
							   0,
							   check_password_file, assign_password_file, NULL);

	DefineCustomStringVariable("pylibmc_pg.behaviors",
							   "libmemcached behaviors, with pylibmc's names: name=value, name=value.",
							   NULL,
							   &behaviors_string,
							   "",
							   PGC_SUSET,
							   0,
							   check_behaviors, assign_behaviors, NULL);

	DefineCustomStringVariable("pylibmc_pg.namespace",
							   "Prefix added to every key sent to memcached, and removed from keys read back.",
							   NULL,
							   &pmc_namespace,
							   "",
							   PGC_SUSET,
							   0,
							   check_namespace, assign_namespace, NULL);

	DefineCustomEnumVariable("pylibmc_pg.on_error",
							 "What a memcached server or network failure does: error, warning or ignore.",
							 "With warning or ignore, reads return NULL and writes false.",
							 &pmc_on_error,
							 PMC_ON_ERROR_ERROR,
							 on_error_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	/*
	 * Seconds, at most memcached's 30 days (a larger ttl would be read as
	 * an absolute time).  Any role: it only decides what the commit-time
	 * batch writes to the servers it may write to anyway.
	 */
	DefineCustomIntVariable("pylibmc_pg.invalidation_hold",
							"Seconds the commit-time invalidation keeps a tombstone instead of deleting (0: delete).",
							"With a hold, mc_delete_on_commit and mc_invalidate store a pickled None (flags 1) for that long: reads see a miss and add fails, so a late fill cannot bring the old row back.",
							&pmc_invalidation_hold,
							0, 0, 30 * 24 * 3600,
							PGC_USERSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	/*
	 * Milliseconds mc_cached waits for another session's lease to be
	 * filled before it runs its query without filling (lease.c).  Any
	 * role: it only bounds a wait of the caller's own.  The default covers
	 * a typical cached query with room to spare, and bounds what a filler
	 * that failed costs the others: at most this much, per call, until its
	 * lease expires.
	 */
	DefineCustomIntVariable("pylibmc_pg.lease_wait",
							"Milliseconds mc_cached waits for another session's lease to be filled (0: no wait).",
							"After the wait, the query runs without filling the cache.",
							&pmc_lease_wait,
							500, 0, 60 * 1000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	/*
	 * The cluster-wide counters' table size (cluster_stats.c reads it), as
	 * pg_stat_statements.max: fixed at server start, so it exists only
	 * when the library is preloaded (PostgreSQL allows no PGC_POSTMASTER
	 * setting later).
	 */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("pylibmc_pg.cluster_stats_max",
								"Most (database, role, server, operation) entries mc_cluster_stats keeps.",
								"When the table is full, the least used entries are evicted (mc_cluster_stats_info counts them).",
								&pmc_cluster_stats_max,
								5000, 10, 1000000,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);

	/*
	 * The invalidation log (inval_log.c): superusers (and ALTER DATABASE)
	 * turn it on, since what it writes costs WAL and holds the slot's WAL
	 * back until it is replayed.
	 */
	DefineCustomBoolVariable("pylibmc_pg.invalidation_log",
							 "Also writes the keys queued for deletion at commit into the WAL, for the replay worker.",
							 "Requires wal_level = logical.  The keys are replayed by the background worker of each database named in pylibmc_pg.invalidation_log_databases.",
							 &pmc_invalidation_log,
							 false,
							 PGC_SUSET,
							 0,
							 check_invalidation_log, NULL, NULL);
	DefineCustomIntVariable("pylibmc_pg.invalidation_log_max_age",
							"Age of an undelivered invalidation after which the replay worker gives it up (0: never).",
							"Each key given up on is counted in mc_invalidation_log and logged.",
							&pmc_invalidation_log_max_age,
							0, 0, PG_INT32_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	/* the replay workers are registered at server start (inval_replay.c) */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("pylibmc_pg.invalidation_log_databases",
								   "Databases whose invalidation log a background worker replays (comma-separated).",
								   NULL,
								   &pmc_invalidation_log_databases,
								   "",
								   PGC_POSTMASTER,
								   GUC_LIST_INPUT,
								   NULL, NULL, NULL);

	defining_gucs = false;
	placeholder_set_by_superuser = true;
	pmc_reserve_guc_prefix("pylibmc_pg");

	/*
	 * Until this library is loaded, pylibmc_pg.password is an unprotected
	 * placeholder that any role can read.  Say so when a password is set
	 * and nothing preloaded us.
	 */
	if (!process_shared_preload_libraries_in_progress &&
		pmc_password != NULL && pmc_password[0] != '\0')
		ereport(WARNING,
				(errmsg("pylibmc_pg.password is set but pylibmc_pg was not preloaded"),
				 errdetail("Before the library loads, any role can read the password with current_setting()."),
				 errhint("Add pylibmc_pg to shared_preload_libraries or session_preload_libraries.")));
}
