/*
 * test/memory/asan-preinit.c: preloaded after the ASan runtime by
 * test/memory/asan.sh, so that ASan initialises before glibc takes a
 * locale lock (the deadlock is explained at the top of asan.sh).
 *
 * Each wrapper does one malloc and free first, with no glibc lock held:
 * the ASan runtime initialises on its first malloc.  Then it calls the
 * real function.  setlocale and textdomain need no wrapper: ASan already
 * intercepts them.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libintl.h>
#include <locale.h>
#include <stdlib.h>

static void
asan_init_now(void)
{
	static int	done;

	if (!done)
	{
		void	   *volatile p;

		done = 1;
		p = malloc(1);
		free(p);
	}
}

#define WRAP(ret, name, params, args) \
ret \
name params \
{ \
	static ret (*real) params; \
	asan_init_now(); \
	if (!real) \
		real = (ret (*) params) dlsym(RTLD_NEXT, #name); \
	return real args; \
}

WRAP(locale_t, newlocale, (int mask, const char *locale, locale_t base), (mask, locale, base))
WRAP(locale_t, duplocale, (locale_t l), (l))
WRAP(char *, bindtextdomain, (const char *d, const char *dir), (d, dir))
WRAP(char *, bind_textdomain_codeset, (const char *d, const char *c), (d, c))
