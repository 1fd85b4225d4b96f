/*
 * test/cluster/replicas-libmemcached.c: why pylibmc_pg refuses num_replicas.
 *
 * A plain libmemcached program (no PostgreSQL, no pylibmc_pg) that shows
 * what libmemcached 1.1.4 (Debian 12) does with MEMCACHED_BEHAVIOR_NUMBER_OF_
 * REPLICAS = 1 and the binary protocol, against three real memcacheds:
 *
 *   1. a replica's copy of a set is a quiet request left in the write buffer:
 *      it reaches the replica only when something else is sent to that
 *      server (here: memcached_quit);
 *   2. incr and append go to the primary only: the replica keeps the old
 *      value, which reads return once the primary is down;
 *   3. deletes go to the replicas as quiet requests whose "not found" error
 *      replies are never read: later gets on those connections read them as
 *      their own replies, so they return misses and other keys' values.
 *
 * Build and run (the ports of three memcacheds on 127.0.0.1):
 *   gcc -o /tmp/replicas test/cluster/replicas-libmemcached.c -lmemcached
 *   for p in 21301 21302 21303; do memcached -u memcache -l 127.0.0.1 -p $p -U 0 -d; done
 *   /tmp/replicas 21301 21302 21303
 * Exit status 0 when all three problems show (libmemcached unchanged), 1 if
 * one of them is gone (then num_replicas deserves another look).
 */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	ports[3];

/* the value of key on server i alone, or "-" */
static void
value_on(int i, const char *key, char *out, size_t outlen)
{
	memcached_st *one = memcached_create(NULL);
	memcached_return_t rc;
	size_t		len;
	uint32_t	flags;
	char	   *v;

	memcached_server_add(one, "127.0.0.1", ports[i]);
	v = memcached_get(one, key, strlen(key), &len, &flags, &rc);
	snprintf(out, outlen, "%.*s", v ? (int) len : 1, v ? v : "-");
	free(v);
	memcached_free(one);
}

/* how many servers hold key with exactly this value */
static int
copies(const char *key, const char *want)
{
	int			n = 0;

	for (int i = 0; i < 3; i++)
	{
		char		got[64];

		value_on(i, key, got, sizeof(got));
		n += strcmp(got, want) == 0;
	}
	return n;
}

static memcached_st *
replicated_client(void)
{
	memcached_st *mc = memcached_create(NULL);

	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_KETAMA, 1);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NUMBER_OF_REPLICAS, 1);
	for (int i = 0; i < 3; i++)
		memcached_server_add(mc, "127.0.0.1", ports[i]);
	return mc;
}

int
main(int argc, char **argv)
{
	memcached_st *mc;
	uint64_t	counter;
	int			shown = 0;
	int			before,
				after,
				wrong = 0,
				missing = 0;

	if (argc != 4)
	{
		fprintf(stderr, "usage: %s PORT1 PORT2 PORT3\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < 3; i++)
		ports[i] = atoi(argv[i + 1]);
	mc = replicated_client();

	/* 1. the replica's copy waits in the write buffer */
	memcached_set(mc, "rep:a", 5, "10", 2, 0, 0);
	before = copies("rep:a", "10");
	memcached_quit(mc);
	after = copies("rep:a", "10");
	printf("1. set with num_replicas=1: %d cop%s right after, %d after memcached_quit\n",
		   before, before == 1 ? "y" : "ies", after);
	shown += (before == 1 && after == 2);

	/* 2. incr and append reach the primary only */
	memcached_increment(mc, "rep:a", 5, 5, &counter);
	memcached_append(mc, "rep:a", 5, "9", 1, 0, 0);
	memcached_quit(mc);
	before = copies("rep:a", "159");
	after = copies("rep:a", "10");
	printf("2. incr 5 then append \"9\": %d server(s) hold 159, %d still hold 10 (a stale replica)\n",
		   before, after);
	shown += (before == 1 && after == 1);

	/* 3. deletes of missing keys leave unread replies on replica connections */
	for (int i = 0; i < 300; i++)
	{
		char		k[32],
					v[32];

		snprintf(k, sizeof(k), "rep:k%d", i);
		snprintf(v, sizeof(v), "v%d", i);
		memcached_set(mc, k, strlen(k), v, strlen(v), 0, 0);
	}
	memcached_quit(mc);
	for (int i = 0; i < 50; i++)
	{
		char		k[32];

		snprintf(k, sizeof(k), "rep:missing%d", i);
		memcached_delete(mc, k, strlen(k), 0);
	}
	for (int i = 0; i < 300; i++)
	{
		char		k[32],
					want[32];
		size_t		len;
		uint32_t	flags;
		memcached_return_t rc;
		char	   *v;

		snprintf(k, sizeof(k), "rep:k%d", i);
		snprintf(want, sizeof(want), "v%d", i);
		v = memcached_get(mc, k, strlen(k), &len, &flags, &rc);
		if (v == NULL)
			missing++;
		else if (len != strlen(want) || memcmp(v, want, len) != 0)
			wrong++;
		free(v);
	}
	printf("3. after 50 deletes of missing keys, 300 gets of present keys: %d wrong values, %d misses\n",
		   wrong, missing);
	shown += (wrong > 0);

	memcached_free(mc);
	printf("%d of 3 problems shown\n", shown);
	return shown == 3 ? 0 : 1;
}
