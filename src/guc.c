/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  The pylibmc_pg.* settings and the module's entry point.
 *
 * Every setting is checked in its check hook (a bad value is refused at
 * SET time, with a detail naming the bad part), parsed once into the
 * hook's "extra", and stored by the assign hook, which only marks the
 * client stale: no network I/O happens in a hook.  client.c rebuilds the
 * client at the next call, and only if the configuration really changed.
 *
 * Who may set what (see README.md, "Security"): everything that decides
 * where the backend connects and with which credentials is PGC_SUSET, so
 * only superusers, or roles granted SET on the parameter, can change it;
 * the password is also GUC_SUPERUSER_ONLY, hidden from everybody else.
 * on_error only changes how failures are reported, so any role may set it.
 *
 *-------------------------------------------------------------------------
 */
#include "pylibmc_pg.h"

#include <ctype.h>

#include "miscadmin.h"
#include "utils/guc.h"

PMC_MODULE_MAGIC;

void		_PG_init(void);

PmcServerList *pmc_server_list = NULL;
PmcBehaviorList *pmc_behavior_list = NULL;
bool		pmc_binary = false;
char	   *pmc_username = NULL;
char	   *pmc_password = NULL;
char	   *pmc_namespace = NULL;
int			pmc_on_error = PMC_ON_ERROR_ERROR;
int			pmc_invalidation_hold = 0;

static char *servers_string = NULL;
static char *behaviors_string = NULL;

static const struct config_enum_entry on_error_options[] = {
	{"error", PMC_ON_ERROR_ERROR, false},
	{"warning", PMC_ON_ERROR_WARNING, false},
	{"ignore", PMC_ON_ERROR_IGNORE, false},
	{NULL, 0, false}
};

static void *
guc_alloc(size_t size)
{
	return pmc_guc_alloc_raw(size);
}

/* The parsers' messages, as a detail sentence: capitalized, with a period */
static void
set_check_detail(char *msg)
{
	msg[0] = toupper((unsigned char) msg[0]);
	GUC_check_errdetail("%s.", msg);
}

static bool
check_servers(char **newval, void **extra, GucSource source)
{
	char		errbuf[512];
	PmcServerList *list;

	list = pmc_parse_servers(*newval, guc_alloc, errbuf, sizeof(errbuf));
	if (list == NULL)
	{
		set_check_detail(errbuf);
		GUC_check_errhint("Write a comma-separated list of \"host\", \"host:port\", \"host:port:weight\", \"[ipv6]:port\", \"udp:host:port\" or \"/path/to/socket\" entries.");
		return false;
	}
	*extra = list;
	return true;
}

static void
assign_servers(const char *newval, void *extra)
{
	pmc_server_list = (PmcServerList *) extra;
	pmc_mark_client_stale();
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
	PmcBehaviorList *list;
	memcached_st *scratch;

	list = pmc_parse_behaviors(*newval, guc_alloc, errbuf, sizeof(errbuf));
	if (list == NULL)
	{
		set_check_detail(errbuf);
		GUC_check_errhint("Write a comma-separated list of name=value pairs with pylibmc's behavior names, such as \"tcp_nodelay=true, ketama=true, connect_timeout=500\".");
		return false;
	}

	scratch = memcached_create(NULL);
	if (scratch != NULL)
	{
		for (int i = 0; i < list->nsettings; i++)
		{
			memcached_return_t rc;

			if (list->settings[i].id < 0)
				continue;		/* pylibmc-only */
			rc = memcached_behavior_set(scratch, (memcached_behavior_t) list->settings[i].id,
										(uint64_t) list->settings[i].value);
			if (rc != MEMCACHED_SUCCESS)
			{
				GUC_check_errdetail("libmemcached refuses behavior \"%s\" = %lld: %s.",
									pmc_behavior_name(list->settings[i].id),
									(long long) list->settings[i].value,
									memcached_strerror(scratch, rc));
				memcached_free(scratch);
				pmc_guc_free_raw(list);
				return false;
			}
		}
		memcached_free(scratch);
	}
	*extra = list;
	return true;
}

static void
assign_behaviors(const char *newval, void *extra)
{
	pmc_behavior_list = (PmcBehaviorList *) extra;
	pmc_mark_client_stale();
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
		return true;
	/* libmemcached's own limit is 127 bytes */
	if (strlen(*newval) > 127)
	{
		GUC_check_errdetail("A namespace is at most 127 bytes long.");
		return false;
	}
	/* libmemcached checks namespaces as ASCII keys, whatever the protocol */
	for (p = (const unsigned char *) *newval; *p; p++)
	{
		if (*p <= ' ' || *p >= 0x7f)
		{
			GUC_check_errdetail("A namespace can only contain printable ASCII characters other than space.");
			return false;
		}
	}
	return true;
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
assign_marks_stale_string(const char *newval, void *extra)
{
	pmc_mark_client_stale();
}

static void
assign_marks_stale_bool(bool newval, void *extra)
{
	pmc_mark_client_stale();
}

void
pmc_define_gucs(void)
{
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
							 NULL, assign_marks_stale_bool, NULL);

	DefineCustomStringVariable("pylibmc_pg.username",
							   "SASL user name (requires pylibmc_pg.binary_protocol).",
							   NULL,
							   &pmc_username,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, assign_marks_stale_string, NULL);

	DefineCustomStringVariable("pylibmc_pg.password",
							   "SASL password (requires pylibmc_pg.binary_protocol).",
							   "Visible to superusers only.",
							   &pmc_password,
							   "",
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, assign_marks_stale_string, show_password);

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
							   check_namespace, assign_marks_stale_string, NULL);

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

	pmc_reserve_guc_prefix("pylibmc_pg");
}

void
_PG_init(void)
{
	pmc_define_gucs();
	pmc_invalidation_init();

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
