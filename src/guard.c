/*-------------------------------------------------------------------------
 *
 * guard.c
 *	  What every libmemcached request runs under: its waits bounded and
 *	  given up on a cancel, the C locale, and libmemcached's abort() caught.
 *
 *	- waits: libmemcached (our patched copy, patches/libmemcached) asks
 *	  pmc_guard_wait() before every wait how long it may last.  In a
 *	  request (pmc_guard_bound_request) each server is held to one
 *	  deadline, _poll_timeout after the request's first wait for it (a
 *	  connect has its own connect_timeout), however it drips its reply or
 *	  fails to read what is sent; so a stopped server costs a request one
 *	  timeout, and the other servers of the request keep theirs.  A cancel,
 *	  statement_timeout or terminate that arrives during a wait gives the
 *	  request up at once (within PMC_WAIT_SLICE_MS), libmemcached closes
 *	  that connection, and the interrupt takes effect when the request
 *	  returns.  Signals are not blocked: the patched library waits again
 *	  for what is left of its timeout after an EINTR.
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
#include <time.h>

#include "libpq/pqsignal.h"
#include "miscadmin.h"

#include "guard.h"

/*
 * The longest a wait sleeps before pmc_guard_wait() is asked again: a signal
 * that arrives just before libmemcached enters poll() does not interrupt it,
 * so a cancel is seen at the latest this long after it arrived.
 */
#define PMC_WAIT_SLICE_MS	50

/*
 * The servers of one request that have a deadline of their own; beyond that
 * many, the last entry serves every further one (a wait for several servers
 * at once has an entry too, for the NULL server).
 */
#define PMC_WAIT_SERVERS	16

typedef struct PmcWaitDeadline
{
	const memcached_instance_st *server;
	int64		deadline;		/* ms on the monotonic clock */
} PmcWaitDeadline;

/* the guard's state: one request at a time in a backend */
typedef struct PmcGuard
{
	bool		active;
	locale_t	saved_locale;

	/*
	 * In a request (pmc_guard_bound_request) each server has a deadline,
	 * set at the request's first wait for it, _poll_timeout later.
	 */
	bool		bounded;
	int			nservers;
	PmcWaitDeadline servers[PMC_WAIT_SERVERS];
	bool		interrupted;	/* a wait was given up for a cancel */
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
 * Enter the guard: C locale, no deadline.  guard_leave() undoes it; an ERROR
 * escaping in between is undone by pmc_guard_reset().
 */
static void
guard_enter(void)
{
	if (unlikely(c_locale == (locale_t) 0 || !abort_handler_installed))
		guard_init();
	if (guard.active)
		pmc_guard_reset();
	guard.saved_locale = uselocale(c_locale);
	guard.bounded = false;
	guard.nservers = 0;
	guard.interrupted = false;
	guard.active = true;
}

static void
guard_leave(void)
{
	if (!guard.active)
		return;
	guard.active = false;
	uselocale(guard.saved_locale);
}

/* After an ERROR inside the guard: restore the locale */
void
pmc_guard_reset(void)
{
	abort_target = NULL;
	if (guard.active)
	{
		guard.active = false;
		uselocale(guard.saved_locale);
	}
}

/*
 * memcached_quit() waits too (it sends "quit" and, for a buffered client,
 * reads what is left); its waits are bounded by the configured timeouts and
 * pmc_guard_wait(), as any other.
 */
void
pmc_quit_guarded(memcached_st *mc)
{
	if (mc == NULL)
		return;
	memcached_quit(mc);
}

static int64
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Hold what runs in the guard from now on to a deadline per server,
 * _poll_timeout after the first wait for it (set by pmc_guard_wait(), which
 * is told the timeout: reading the clock only when a wait comes costs
 * nothing to a request whose reply is already there).  Called again, it
 * starts anew (a retry has deadlines of its own).
 */
void
pmc_guard_bound_request(void)
{
	guard.bounded = true;
	guard.nservers = 0;
}

/* The deadline of this request's waits for server: now + timeout if new */
static int64
server_deadline(const memcached_instance_st *server, int64 now, int32_t timeout)
{
	int			i;

	for (i = 0; i < guard.nservers; i++)
		if (guard.servers[i].server == server)
			return guard.servers[i].deadline;
	if (guard.nservers == PMC_WAIT_SERVERS)
		return guard.servers[PMC_WAIT_SERVERS - 1].deadline;
	guard.servers[i].server = server;
	guard.servers[i].deadline = now + timeout;
	guard.nservers++;
	return guard.servers[i].deadline;
}

/*
 * libmemcached's wait callback (memcached_set_wait_callback): how long the
 * coming wait may last, 0 to give the request up.  Only flags are read here
 * (signal handlers set them); the interrupt itself is processed by
 * CHECK_FOR_INTERRUPTS() once libmemcached has returned.  Where interrupts
 * are held off (the commit-time batch runs after the commit record, with
 * interrupts held), a cancel does not stop the wait: the configured
 * timeouts do.
 */
int32_t
pmc_guard_wait(const memcached_st *mc, const memcached_instance_st *server,
			   bool connecting, int32_t timeout, void *context)
{
	int64		left;
	int64		now;

	if (INTERRUPTS_CAN_BE_PROCESSED() && (QueryCancelPending || ProcDiePending))
	{
		guard.interrupted = true;
		return 0;
	}
	if (connecting || !guard.active || !guard.bounded)
		return Min(timeout, PMC_WAIT_SLICE_MS);
	now = monotonic_ms();
	left = server_deadline(server, now, timeout) - now;
	if (left <= 0)
		return 0;
	return (int32_t) Min(Min(left, (int64) timeout), PMC_WAIT_SLICE_MS);
}

/*
 * Was a wait of this request given up for a pending cancel, statement
 * timeout or terminate?  A request made of several libmemcached calls (a
 * multi-get in chunks) stops there instead of starting the next one.
 */
bool
pmc_guard_interrupted(void)
{
	return guard.active && guard.interrupted;
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
