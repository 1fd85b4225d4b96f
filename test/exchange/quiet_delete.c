/*
 * test/exchange/quiet_delete.c: the binary protocol's quiet deletes and the
 * replies after them (patches/libmemcached/0007), against a real memcached.
 *
 *	quiet_delete HOST PORT
 *
 * On one connection, binary protocol: set "qd:present"; with NOREPLY, delete
 * "qd:missing" (the server answers with an error packet, a quiet command's
 * only reply); then acknowledged: set "qd:other", delete "qd:present", get
 * it.  Prints one line per step, "step: result".  Unpatched libmemcached
 * 1.1.4 takes the error packet for the set's reply (NOT FOUND) and every
 * reply after it for the one before.
 */
#include <stdio.h>
#include <stdlib.h>

#include <libmemcached/memcached.h>

int
main(int argc, char **argv)
{
	memcached_st *mc;
	memcached_return_t rc;
	size_t		len;
	uint32_t	flags;
	char	   *v;

	if (argc != 3)
	{
		fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
		return 2;
	}
	mc = memcached_create(NULL);
	memcached_server_add(mc, argv[1], (in_port_t) atoi(argv[2]));
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
	rc = memcached_set(mc, "qd:present", 10, "yes", 3, 0, 0);
	printf("set present: %s\n", memcached_strerror(mc, rc));
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NOREPLY, 1);
	rc = memcached_delete(mc, "qd:missing", 10, 0);
	printf("quiet delete of a missing key: %s\n", memcached_strerror(mc, rc));
	memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NOREPLY, 0);
	rc = memcached_set(mc, "qd:other", 8, "x", 1, 0, 0);
	printf("set other: %s\n", memcached_strerror(mc, rc));
	rc = memcached_delete(mc, "qd:present", 10, 0);
	printf("delete present: %s\n", memcached_strerror(mc, rc));
	v = memcached_get(mc, "qd:present", 10, &len, &flags, &rc);
	printf("get present: %s, %s\n", memcached_strerror(mc, rc), v ? "a value" : "no value");
	free(v);
	memcached_free(mc);
	return 0;
}
