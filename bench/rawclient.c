/*
 * bench/rawclient.c: the floor of any memcached client.
 *
 * Runs one operation in a loop with libmemcached directly (no PostgreSQL)
 * for a number of seconds and prints "OPS_PER_SEC" on stdout, one op being
 * what one pgbench transaction of the same case does:
 *
 *   rawclient [-b] [-S secs] [-s size] [-z min_compress_len] [-n keys]
 *             [-f file] [-p prefix] SERVER OP
 *
 *   SERVER  host:port or /path/to.sock
 *   OP      get      one get of key PREFIX
 *           set      one set of key PREFIX (a value of -s bytes)
 *           mget     one multi-get of -n keys PREFIX000.. (all read to END)
 *           getn     -n single gets of the same keys, one after the other
 *           delete   one delete of key PREFIX
 *   -b      binary protocol (default ASCII)
 *   -z N    compress values of N bytes or more with zlib before set and
 *           inflate after get (what pylibmc and pylibmc_pg do)
 *   -f FILE the value set is FILE's bytes (its size replaces -s), else
 *           random printable bytes
 *
 * Options as pylibmc_pg's defaults: TCP_NODELAY on TCP, CAS support on.
 * Keys are pre-set by the tool itself before timing (get, mget, getn).
 */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(memcached_st *mc, memcached_return_t rc, const char *what)
{
	fprintf(stderr, "rawclient: %s: %s\n", what, memcached_strerror(mc, rc));
	exit(1);
}

static int	zmin = 0;

/* set key to value, compressed when zmin allows (flags 8 as pylibmc) */
static void
do_set(memcached_st *mc, const char *key, const char *val, size_t len)
{
	memcached_return_t rc;

	if (zmin > 0 && len >= (size_t) zmin)
	{
		uLongf		zlen = compressBound(len);
		char	   *z = malloc(zlen);

		if (compress2((Bytef *) z, &zlen, (const Bytef *) val, len, Z_DEFAULT_COMPRESSION) != Z_OK)
		{
			fprintf(stderr, "rawclient: compress failed\n");
			exit(1);
		}
		rc = memcached_set(mc, key, strlen(key), z, zlen, 0, 16 | 8);
		free(z);
	}
	else
		rc = memcached_set(mc, key, strlen(key), val, len, 0, 16);
	if (rc != MEMCACHED_SUCCESS)
		die(mc, rc, "set");
}

/* inflate a value read (as pylibmc does on flag 8); returns its length */
static size_t
maybe_inflate(const char *data, size_t len, uint32_t flags, size_t expect)
{
	if (!(flags & 8))
		return len;
	{
		uLongf		outlen = expect + 64;
		char	   *out = malloc(outlen);

		if (uncompress((Bytef *) out, &outlen, (const Bytef *) data, len) != Z_OK)
		{
			fprintf(stderr, "rawclient: uncompress failed\n");
			exit(1);
		}
		free(out);
		return outlen;
	}
}

static void
do_get(memcached_st *mc, const char *key, size_t expect)
{
	memcached_return_t rc;
	size_t		len;
	uint32_t	flags;
	char	   *v = memcached_get(mc, key, strlen(key), &len, &flags, &rc);

	if (rc != MEMCACHED_SUCCESS)
		die(mc, rc, "get");
	maybe_inflate(v, len, flags, expect);
	free(v);
}

int
main(int argc, char **argv)
{
	int			binary = 0, nkeys = 100, opt;
	double		secs = 5;
	size_t		size = 100;
	const char *prefix = "raw.k";
	const char *file = NULL;
	memcached_st *mc;
	memcached_return_t rc;
	const char *server, *op;
	char	   *val;
	char	  **keys;
	size_t	   *lens;
	long		ops = 0;
	double		t0, t1;

	while ((opt = getopt(argc, argv, "bf:S:s:z:n:p:")) != -1)
	{
		switch (opt)
		{
			case 'b': binary = 1; break;
			case 'f': file = optarg; break;
			case 'S': secs = atof(optarg); break;
			case 's': size = (size_t) atol(optarg); break;
			case 'z': zmin = atoi(optarg); break;
			case 'n': nkeys = atoi(optarg); break;
			case 'p': prefix = optarg; break;
			default:
				fprintf(stderr, "usage: rawclient [-b] [-f file] [-S secs] [-s size] [-z min] [-n keys] [-p prefix] SERVER get|set|mget|getn|delete\n");
				return 2;
		}
	}
	if (argc - optind != 2)
	{
		fprintf(stderr, "rawclient: need SERVER and OP\n");
		return 2;
	}
	server = argv[optind];
	op = argv[optind + 1];

	mc = memcached_create(NULL);
	if (binary)
		memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, 1000);
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, 1000);
	if (server[0] == '/')
		rc = memcached_server_add_unix_socket(mc, server);
	else
	{
		char	   *host = strdup(server);
		char	   *colon = strrchr(host, ':');
		in_port_t	port = 11211;

		if (colon)
		{
			*colon = '\0';
			port = (in_port_t) atoi(colon + 1);
		}
		memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
		rc = memcached_server_add(mc, host, port);
		free(host);
	}
	if (rc != MEMCACHED_SUCCESS)
		die(mc, rc, "server_add");

	/* the value: a file's bytes, or random printable bytes */
	if (file)
	{
		FILE	   *f = fopen(file, "rb");
		struct stat st;

		if (f == NULL || fstat(fileno(f), &st) != 0)
		{
			perror(file);
			return 1;
		}
		size = (size_t) st.st_size;
		val = malloc(size + 1);
		if (fread(val, 1, size, f) != size)
		{
			fprintf(stderr, "rawclient: could not read %s\n", file);
			return 1;
		}
		fclose(f);
	}
	else
	{
		val = malloc(size + 1);
		srandom(42);
		for (size_t i = 0; i < size; i++)
			val[i] = (char) ('!' + random() % 94);
	}
	val[size] = '\0';

	keys = calloc(nkeys, sizeof(char *));
	lens = calloc(nkeys, sizeof(size_t));
	for (int i = 0; i < nkeys; i++)
	{
		keys[i] = malloc(strlen(prefix) + 8);
		sprintf(keys[i], "%s%03d", prefix, i);
		lens[i] = strlen(keys[i]);
	}
	if (strcmp(op, "get") == 0)
		do_set(mc, prefix, val, size);
	else if (strcmp(op, "mget") == 0 || strcmp(op, "getn") == 0)
		for (int i = 0; i < nkeys; i++)
			do_set(mc, keys[i], val, size);
	else if (strcmp(op, "set") != 0 && strcmp(op, "delete") != 0)
	{
		fprintf(stderr, "rawclient: unknown op %s\n", op);
		return 2;
	}

	t0 = now();
	do
	{
		/* check the clock every 16 ops */
		for (int rep = 0; rep < 16; rep++)
		{
			if (strcmp(op, "get") == 0)
				do_get(mc, prefix, size);
			else if (strcmp(op, "set") == 0)
				do_set(mc, prefix, val, size);
			else if (strcmp(op, "delete") == 0)
			{
				rc = memcached_delete(mc, prefix, strlen(prefix), 0);
				if (rc != MEMCACHED_SUCCESS && rc != MEMCACHED_NOTFOUND)
					die(mc, rc, "delete");
			}
			else if (strcmp(op, "getn") == 0)
				for (int i = 0; i < nkeys; i++)
					do_get(mc, keys[i], size);
			else
			{
				memcached_result_st *res;
				int			got = 0;

				rc = memcached_mget(mc, (const char *const *) keys, lens, nkeys);
				if (rc != MEMCACHED_SUCCESS)
					die(mc, rc, "mget");
				while ((res = memcached_fetch_result(mc, NULL, &rc)) != NULL)
				{
					maybe_inflate(memcached_result_value(res), memcached_result_length(res),
								  memcached_result_flags(res), size);
					memcached_result_free(res);
					got++;
				}
				if (got != nkeys)
				{
					fprintf(stderr, "rawclient: mget returned %d of %d keys\n", got, nkeys);
					return 1;
				}
			}
			ops++;
		}
		t1 = now();
	} while (t1 - t0 < secs);

	printf("%.1f\n", ops / (t1 - t0));
	memcached_free(mc);
	return 0;
}
