/*-------------------------------------------------------------------------
 *
 * guard.c
 *	  What every libmemcached request runs under: signals held, the C
 *	  locale, and libmemcached's abort() caught.
 *
 *	- signals: libmemcached 1.1.4's poll loop subtracts the elapsed time
 *	  again after every EINTR, so a second signal makes its timeout
 *	  negative and poll() waits forever; an EINTR can also end a multi-get
 *	  early and leave replies unread.  The signals PostgreSQL expects
 *	  (statement_timeout's SIGALRM, cancels, SIGUSR1/SIGURG, reloads) are
 *	  blocked while libmemcached runs; they are handled when it returns,
 *	  and a pending cancel takes effect then, between requests.  Every
 *	  wait is still bounded by the configured timeouts.
 *	- the locale: libmemcached parses replies with iscntrl()/isspace(),
 *	  which under a single-byte LC_CTYPE accept bytes of UTF-8 keys; it
 *	  runs under the C locale (uselocale(), this thread only).
 *	- assertions: libmemcached abort()s when a server answers a storage
 *	  command with a reply that is no storage reply.  Such an abort inside
 *	  the guard returns false to the caller (who rebuilds the client and
 *	  reports it), instead of a crash that restarts every session of the
 *	  cluster.
 *	- an ERROR thrown from our own code inside the guard (out of memory
 *	  while copying a reply) restores all of the above before it goes on.
 *
 * The guard knows no client: what an abort or an ERROR means for the
 * connections is the caller's business (client.c brackets each request
 * and closes connections whose replies may be half read).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <locale.h>
#include <setjmp.h>
#include <signal.h>

#include "libpq/pqsignal.h"
#include "miscadmin.h"

#include "guard.h"

/* the guard's state: one request at a time in a backend */
typedef struct PmcGuard
{
	bool		active;
	sigset_t	saved_mask;
	locale_t	saved_locale;
} PmcGuard;

static PmcGuard guard;
static locale_t c_locale = (locale_t) 0;

/* where a libmemcached abort() inside the guard jumps to */
static sigjmp_buf *volatile abort_target = NULL;
static bool abort_handler_installed = false;

static void
abort_handler(SIGNAL_ARGS)
{
	if (abort_target != NULL)
		siglongjmp(*abort_target, 1);
	/* not inside the guard: the default action (a core, as before) */
	signal(SIGABRT, SIG_DFL);
	raise(SIGABRT);
}

static void
guard_init(void)
{
	if (c_locale == (locale_t) 0)
	{
		c_locale = newlocale(LC_ALL_MASK, "C", (locale_t) 0);
		if (c_locale == (locale_t) 0)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory"),
					 errdetail("Could not create the C locale for memcached exchanges.")));
	}
	if (!abort_handler_installed)
	{
		pqsignal(SIGABRT, abort_handler);
		abort_handler_installed = true;
	}
}

/*
 * Enter the guard: signals blocked, C locale.  guard_leave() undoes it; an
 * ERROR escaping in between is undone by pmc_guard_reset().
 */
static void
guard_enter(void)
{
	if (unlikely(c_locale == (locale_t) 0 || !abort_handler_installed))
		guard_init();
	if (guard.active)
		pmc_guard_reset();
	pthread_sigmask(SIG_BLOCK, &BlockSig, &guard.saved_mask);
	guard.saved_locale = uselocale(c_locale);
	guard.active = true;
}

static void
guard_leave(void)
{
	if (!guard.active)
		return;
	guard.active = false;
	uselocale(guard.saved_locale);
	pthread_sigmask(SIG_SETMASK, &guard.saved_mask, NULL);
}

/* After an ERROR inside the guard: restore the mask and the locale */
void
pmc_guard_reset(void)
{
	abort_target = NULL;
	if (guard.active)
	{
		guard.active = false;
		uselocale(guard.saved_locale);
		pthread_sigmask(SIG_SETMASK, &guard.saved_mask, NULL);
	}
}

/*
 * memcached_quit() waits too (it sends "quit" and, for a buffered client,
 * reads what is left), in libmemcached's poll loop: hold the signals.
 */
void
pmc_quit_guarded(memcached_st *mc)
{
	sigset_t	saved;

	if (mc == NULL)
		return;
	pthread_sigmask(SIG_BLOCK, &BlockSig, &saved);
	memcached_quit(mc);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
}

/*
 * Run fn(arg) under the guard, catching a libmemcached abort().  Returns
 * false when libmemcached aborted.  An ERROR from fn is re-thrown once the
 * guard is undone.
 */
bool
pmc_guarded_call(void (*fn) (void *arg), void *arg)
{
	sigjmp_buf	abort_jmp;
	volatile bool aborted = false;

	guard_enter();
	PG_TRY();
	{
		if (sigsetjmp(abort_jmp, 0) == 0)
		{
			abort_target = &abort_jmp;
			fn(arg);
		}
		else
			aborted = true;
		abort_target = NULL;
	}
	PG_CATCH();
	{
		pmc_guard_reset();
		PG_RE_THROW();
	}
	PG_END_TRY();
	guard_leave();
	return !aborted;
}
