/*
 * test/fuzz/fuzz_reply.cc: libFuzzer harness for libmemcached's reply
 * parsers, as pylibmc_pg links them (the patched copy, patches/libmemcached).
 *
 * Each input is a server's reply.  The first byte chooses the protocol (bit
 * 0: binary), the request (bits 1-3: get, multi-get of three keys, gets,
 * set, incr, delete, touch, version) and whether a namespace is set (bit 4);
 * the rest is written into one end of a socket pair and that end is closed,
 * and a client whose only server is the other end makes the request and
 * reads the reply to its end.  Built with ASan and UBSan (the library too):
 * any memory error or undefined behaviour is a finding.  What must also
 * hold, checked here:
 *   - a get returns a value only when the request succeeded, and a key no
 *     longer than memcached's 250 bytes (which key it is, libmemcached does
 *     not check: a reply for a key not asked is pylibmc_pg's to refuse,
 *     reads.c and multi.c);
 *   - the request ends: the reply is finite, so every wait ends at its
 *     end of file (libFuzzer's -timeout catches a hang).
 * libmemcached's own assertions abort(); pylibmc_pg turns such an abort
 * inside a request into an ERROR (exchange.c) and frees the client, so
 * here too it ends the request (counted in abort_count, shown at exit) and
 * the client is freed, rather than the run.
 */
#include <csetjmp>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "libmemcached/common.h"

static sigjmp_buf abort_jmp;
static volatile sig_atomic_t in_request = 0;
static unsigned long abort_count = 0;

static void
on_abort(int)
{
	if (in_request)
		siglongjmp(abort_jmp, 1);
	signal(SIGABRT, SIG_DFL);
	raise(SIGABRT);
}

static void
report_aborts(void)
{
	fprintf(stderr, "fuzz_reply: %lu requests ended in a libmemcached assertion (an ERROR in pylibmc_pg)\n",
			abort_count);
}

static const char *const keys[] = {"k", "key2", "third-key"};
static const size_t key_lens[] = {1, 4, 9};

/* one request of the chosen kind; aborts the process on a broken rule */
static void
request(memcached_st *mc, int kind)
{
	memcached_return_t rc;
	size_t		len = 0;
	uint32_t	flags = 0;
	uint64_t	value = 0;

	switch (kind)
	{
		case 0:
			{
				char	   *v = memcached_get(mc, "k", 1, &len, &flags, &rc);

				if (v != NULL && memcached_failed(rc))
					__builtin_trap();	/* a value from a failed request */
				free(v);
				break;
			}
		case 1:
		case 2:
			{
				memcached_result_st *r;

				if (kind == 2)
					memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);
				rc = memcached_mget(mc, keys, key_lens, kind == 2 ? 1 : 3);
				if (memcached_failed(rc))
					break;
				while ((r = memcached_fetch_result(mc, NULL, &rc)) != NULL)
				{
					if (memcached_result_key_length(r) > MEMCACHED_MAX_KEY - 1)
						__builtin_trap();	/* a key longer than its buffer */
					memcached_result_free(r);
				}
				break;
			}
		case 3:
			(void) memcached_set(mc, "k", 1, "value", 5, 0, 16);
			break;
		case 4:
			(void) memcached_increment(mc, "k", 1, 1, &value);
			break;
		case 5:
			(void) memcached_delete(mc, "k", 1, 0);
			break;
		case 6:
			(void) memcached_touch(mc, "k", 1, 10);
			break;
		default:
			(void) memcached_version(mc);
			break;
	}
}

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready = false;
	int			sv[2];
	memcached_st *mc;
	memcached_instance_st *instance;

	if (!ready)
	{
		signal(SIGPIPE, SIG_IGN);
		signal(SIGABRT, on_abort);
		atexit(report_aborts);
		ready = true;
	}
	/* the reply must fit the socket pair's buffer: it is written at once */
	if (size < 1 || size > 65536)
		return 0;

	mc = memcached_create(NULL);
	if (mc == NULL)
		return 0;
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, data[0] & 1);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, 200);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, 200);
	if (data[0] & 0x10)
		memcached_callback_set(mc, MEMCACHED_CALLBACK_NAMESPACE, "ns:");
	memcached_server_add(mc, "127.0.0.1", 1);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
	{
		memcached_free(mc);
		return 0;
	}
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	{
		/* room for the whole reply, and for the request in the other direction */
		int			bufsize = 1 << 20;

		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
	}
	if (size > 1 && write(sv[1], data + 1, size - 1) != (ssize_t) (size - 1))
	{
		close(sv[0]);
		close(sv[1]);
		memcached_free(mc);
		return 0;
	}
	shutdown(sv[1], SHUT_WR);

	/* the client's server "connected" to our end of the pair */
	instance = memcached_instance_fetch(mc, 0);
	instance->fd = sv[0];
	instance->state = MEMCACHED_SERVER_STATE_CONNECTED;

	if (sigsetjmp(abort_jmp, 1) == 0)
	{
		in_request = 1;
		request(mc, (data[0] >> 1) & 7);
		in_request = 0;
		/* closes our end if it is still open (quit_server resets fd) */
		memcached_free(mc);
	}
	else
	{
		/* as pylibmc_pg (client.c): the client is freed and built anew */
		in_request = 0;
		abort_count++;
		memcached_free(mc);
	}
	close(sv[1]);
	return 0;
}
