/*-------------------------------------------------------------------------
 *
 * credentials.c
 *	  Where the SASL password comes from, and where it may be sent.
 *
 * The password is pylibmc_pg.password, or the first line of the file
 * that pylibmc_pg.password_file names.  The file route keeps the secret
 * out of every setting's value, so out of the server log's "parameter ...
 * changed to" lines, pg_settings, postgresql.auto.conf and the catalogs.
 * The file is read when the client is built, never in a GUC hook, and
 * must be as private as libpq's password file: a plain file owned by the
 * server's operating system user, with no group or world access.  It is
 * opened without blocking, so that a FIFO (or a device) at its path is
 * refused at once rather than waiting in open() for a writer, a wait that
 * neither a cancel nor a terminate could end.
 *
 * Credentials that a role may not read are never sent to a server list
 * that such a role chose, or may have chosen (guc.c records who chose it:
 * a value stored with ALTER ROLE or ALTER DATABASE counts as a role's,
 * since a role granted SET may have stored it): the call is refused
 * before anything is sent.  Without a user name there is no SASL, so a
 * server-wide password file is not sent anywhere.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/fd.h"

#include "settings.h"

/* the longest first line we read from the password file */
#define PMC_MAX_PASSWORD_LEN	1024
#define PMC_PASSWORD_BUFSIZE	(PMC_MAX_PASSWORD_LEN + 2)

/* Overwrite the whole read buffer (NUL bytes included), then free it */
static void
forget_buffer(char *buf)
{
	explicit_bzero(buf, PMC_PASSWORD_BUFSIZE);
	pfree(buf);
}

/* Are SASL credentials configured, a password or a password file? */
bool
pmc_sasl_has_secret(void)
{
	return (pmc_password != NULL && pmc_password[0] != '\0') ||
		(pmc_password_file != NULL && pmc_password_file[0] != '\0');
}

/*
 * Refuse to build a client that would send a password to servers chosen by
 * a role that may not read that password.  The password from the file, or
 * one set by a superuser or in the configuration, is such a password; one
 * the role set itself is its own to send wherever it likes.
 */
void
pmc_check_credentials_destination(void)
{
	bool		secret_is_protected;

	if (pmc_username == NULL || pmc_username[0] == '\0' || !pmc_sasl_has_secret())
		return;
	if (!pmc_servers_chosen_by_role())
		return;
	secret_is_protected = (pmc_password_file != NULL && pmc_password_file[0] != '\0') ||
		!pmc_password_chosen_by_role();
	if (!secret_is_protected)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("SASL credentials are not sent to servers chosen by a role that cannot read them"),
			 errdetail("pylibmc_pg.servers was set by a role that is not a superuser, stored with ALTER ROLE or ALTER DATABASE (which do not record who stored it), or set before pylibmc_pg was loaded; nothing was sent."),
			 errhint("Name the servers that receive credentials in postgresql.conf, with ALTER SYSTEM or with ALTER ROLE ALL ... SET, or have a superuser SET pylibmc_pg.servers in the session.")));
}

/*
 * The first line of the password file, palloc'd.  Errors name the file
 * and say what is wrong with it, never what it holds.
 */
static char *
read_password_file(const char *path)
{
	int			fd;
	struct stat st;
	char	   *buf;
	ssize_t		nread;
	size_t		len;
	int			save_errno;

	/* O_NONBLOCK: a FIFO is opened at once, then refused as not plain */
	fd = OpenTransientFile(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open password file \"%s\": %m", path),
				 errhint("Check pylibmc_pg.password_file; the file is read by the database server's operating system user, and must not be a symbolic link.")));
	if (fstat(fd, &st) < 0)
	{
		save_errno = errno;
		CloseTransientFile(fd);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat password file \"%s\": %m", path)));
	}
	if (!S_ISREG(st.st_mode))
	{
		CloseTransientFile(fd);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("password file \"%s\" is not a plain file", path)));
	}
	if (st.st_uid != geteuid())
	{
		CloseTransientFile(fd);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("password file \"%s\" is not owned by the database server's operating system user", path),
				 errhint("Make the server's operating system user own it, with chmod 0600.")));
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
	{
		CloseTransientFile(fd);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("password file \"%s\" has group or world access", path),
				 errdetail("Permissions should be u=rw (0600) or less."),
				 errhint("chmod 0600 the file; it is not used until then.")));
	}

	buf = palloc0(PMC_PASSWORD_BUFSIZE);
	nread = read(fd, buf, PMC_MAX_PASSWORD_LEN + 1);
	save_errno = errno;
	CloseTransientFile(fd);
	if (nread < 0)
	{
		forget_buffer(buf);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read password file \"%s\": %m", path)));
	}
	/* the first line, without its end of line (\n or \r\n) */
	len = 0;
	while (len < (size_t) nread && buf[len] != '\r' && buf[len] != '\n')
		len++;
	if (len > PMC_MAX_PASSWORD_LEN)
	{
		forget_buffer(buf);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("the first line of password file \"%s\" is longer than %d bytes", path,
						PMC_MAX_PASSWORD_LEN)));
	}
	if (memchr(buf, '\0', len) != NULL)
	{
		forget_buffer(buf);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("password file \"%s\" contains a NUL byte in its first line", path),
				 errhint("Write the password alone on the file's first line; it cannot contain a NUL byte.")));
	}
	memset(buf + len, 0, PMC_PASSWORD_BUFSIZE - len);
	if (len == 0)
	{
		pfree(buf);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("password file \"%s\" has an empty first line", path),
				 errhint("Write the password alone on the file's first line.")));
	}
	return buf;
}

/*
 * The SASL password to send, palloc'd: the password file's first line when
 * pylibmc_pg.password_file is set, else pylibmc_pg.password.  Release it
 * with pmc_forget_password().
 */
char *
pmc_sasl_password(void)
{
	if (pmc_password_file != NULL && pmc_password_file[0] != '\0')
		return read_password_file(pmc_password_file);
	return pstrdup(pmc_password ? pmc_password : "");
}

/* Overwrite a copy of the password, then free it */
void
pmc_forget_password(char *password)
{
	if (password == NULL)
		return;
	explicit_bzero(password, strlen(password));
	pfree(password);
}
