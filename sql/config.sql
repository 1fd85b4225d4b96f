--
-- config: the pylibmc_pg.servers and pylibmc_pg.behaviors settings (every
-- form pylibmc accepts, each bad value refused at SET time with a DETAIL
-- naming the bad part), the SASL settings, and when the client is rebuilt.
--
-- Keys start with "cfg:" so this file does not meet the other suites'.
--

-- Load the module first: a SET of a pylibmc_pg.* setting before that would
-- only be checked when the module loads.
LOAD 'pylibmc_pg';

SELECT coalesce(current_setting('pylibmc_test.tcp', true), '127.0.0.1:11211') AS tcp,
	   current_setting('pylibmc_test.unix') AS unix \gset

------------------------------------------------------------------------
-- pylibmc_pg.servers: accepted forms (no I/O happens at SET time)
------------------------------------------------------------------------
SET pylibmc_pg.servers = 'localhost';
SHOW pylibmc_pg.servers;
SET pylibmc_pg.servers = 'cache-1.example.com:11212';
SHOW pylibmc_pg.servers;
SET pylibmc_pg.servers = '10.0.0.1:11211:3, 10.0.0.2:11211:1, 10.0.0.3';
SHOW pylibmc_pg.servers;
SET pylibmc_pg.servers = '[::1]:11211';
SHOW pylibmc_pg.servers;
SET pylibmc_pg.servers = '[::1]';
SHOW pylibmc_pg.servers;
SET pylibmc_pg.servers = '[::1]:11211:2, [fe80::1%eth0]:11300';
SHOW pylibmc_pg.servers;
SET pylibmc_pg.servers = 'udp:127.0.0.1:11211';
SHOW pylibmc_pg.servers;
SET pylibmc_pg.servers = 'udp:localhost, udp:[::1]:5555:2';
SHOW pylibmc_pg.servers;
SET pylibmc_pg.servers = '/var/run/memcached/memcached.sock';
SHOW pylibmc_pg.servers;
SET pylibmc_pg.servers = '/tmp/a.sock, /tmp/b.sock';
SHOW pylibmc_pg.servers;
-- blanks around entries are fine
SET pylibmc_pg.servers = '  localhost:11211 ,  127.0.0.1  ';
SHOW pylibmc_pg.servers;
-- an empty list is accepted, but no call can be made with it
SET pylibmc_pg.servers = '';
SELECT mc_get('cfg:k');
RESET pylibmc_pg.servers;
SELECT current_setting('pylibmc_pg.servers') = :'tcp' AS reset_to_tcp;

------------------------------------------------------------------------
-- pylibmc_pg.servers: refused, with the bad entry named
------------------------------------------------------------------------
-- transports cannot be mixed
SET pylibmc_pg.servers = '127.0.0.1:11211, udp:127.0.0.1:11212';
SET pylibmc_pg.servers = '/tmp/a.sock, 127.0.0.1';
SET pylibmc_pg.servers = 'udp:127.0.0.1, /tmp/a.sock';
-- ports and weights
SET pylibmc_pg.servers = 'localhost:0';
SET pylibmc_pg.servers = 'localhost:70000';
SET pylibmc_pg.servers = 'localhost:x';
SET pylibmc_pg.servers = 'localhost:';
SET pylibmc_pg.servers = 'localhost:-1';
SET pylibmc_pg.servers = 'localhost:11211:0';
SET pylibmc_pg.servers = 'localhost:11211:heavy';
-- IPv6 only in brackets
SET pylibmc_pg.servers = 'fe80::1:11211';
SET pylibmc_pg.servers = '::1';
SET pylibmc_pg.servers = '[::1';
SET pylibmc_pg.servers = '[]:11211';
SET pylibmc_pg.servers = '[zz]:11211';
SET pylibmc_pg.servers = '[::1]11211';
-- a socket is a path, not a URL
SET pylibmc_pg.servers = 'unix:/tmp/a.sock';
-- empty entries, missing hosts
SET pylibmc_pg.servers = 'a,,b';
SET pylibmc_pg.servers = 'a,';
SET pylibmc_pg.servers = ',a';
SET pylibmc_pg.servers = ':11211';
SET pylibmc_pg.servers = 'udp:';
SET pylibmc_pg.servers = 'bad host';
-- nothing was changed by the refused values
SELECT current_setting('pylibmc_pg.servers') = :'tcp' AS unchanged;
SELECT mc_set('cfg:k', 'v'), mc_get('cfg:k');

------------------------------------------------------------------------
-- pylibmc_pg.behaviors: every name pylibmc accepts
------------------------------------------------------------------------
-- mc_behaviors() shows the effective values, name to value
CREATE FUNCTION pg_temp.behaviors(VARIADIC names text[]) RETURNS TABLE (name text, value jsonb)
LANGUAGE sql AS $$
	SELECT key, value FROM jsonb_each(mc_behaviors()) WHERE key = ANY (names) ORDER BY key
$$;
SET pylibmc_pg.behaviors = 'no_block=true, tcp_nodelay=false, tcp_keepalive=on';
SELECT * FROM pg_temp.behaviors('no_block', 'tcp_nodelay', 'tcp_keepalive');
SELECT mc_set('cfg:k', 'no_block'), mc_get('cfg:k');
-- hashes by pylibmc's names; ketama_hash takes a name or a number
SET pylibmc_pg.behaviors = 'hash=md5';
SELECT * FROM pg_temp.behaviors('hash');
SET pylibmc_pg.behaviors = 'hash=crc';
SELECT * FROM pg_temp.behaviors('hash');
SET pylibmc_pg.behaviors = 'hash=fnv1a_32';
SELECT * FROM pg_temp.behaviors('hash');
SET pylibmc_pg.behaviors = 'hash=fnv1_64, ketama_hash=md5';
SELECT * FROM pg_temp.behaviors('hash', 'ketama_hash');
SET pylibmc_pg.behaviors = 'hash=fnv1_32, ketama_hash=1';
SELECT * FROM pg_temp.behaviors('hash', 'ketama_hash');
SET pylibmc_pg.behaviors = 'hash=fnv1a_64';
SET pylibmc_pg.behaviors = 'hash=murmur';
SET pylibmc_pg.behaviors = 'hash=jenkins';
SET pylibmc_pg.behaviors = 'hash=default';
SELECT * FROM pg_temp.behaviors('hash');
-- distributions: ketama and ketama_weighted set it, as in libmemcached
SET pylibmc_pg.behaviors = 'ketama=true';
SELECT * FROM pg_temp.behaviors('distribution', 'ketama');
SET pylibmc_pg.behaviors = 'ketama_weighted=true';
SELECT * FROM pg_temp.behaviors('distribution', 'ketama_weighted', 'hash', 'ketama_hash');
SET pylibmc_pg.behaviors = 'distribution=consistent ketama';
SELECT * FROM pg_temp.behaviors('distribution');
SET pylibmc_pg.behaviors = 'distribution=consistent_ketama';
SELECT * FROM pg_temp.behaviors('distribution');
SET pylibmc_pg.behaviors = 'distribution=consistent';
SELECT * FROM pg_temp.behaviors('distribution');
SET pylibmc_pg.behaviors = 'distribution=random';
SELECT * FROM pg_temp.behaviors('distribution');
SET pylibmc_pg.behaviors = 'distribution=modula';
SELECT * FROM pg_temp.behaviors('distribution');
SELECT mc_set('cfg:k', 'modula'), mc_get('cfg:k');
-- cas and verify_keys
SET pylibmc_pg.behaviors = 'cas=false';
SELECT * FROM pg_temp.behaviors('cas');
SELECT mc_gets('cfg:k');
SELECT mc_get('cfg:k') AS plain_get_works;
SET pylibmc_pg.behaviors = 'cas=true, verify_keys=true';
SELECT * FROM pg_temp.behaviors('cas', 'verify_keys');
SELECT (mc_gets('cfg:k')).value;
-- timeouts, replicas, failover
SET pylibmc_pg.behaviors = 'connect_timeout=500, send_timeout=2000000, receive_timeout=2000000, _poll_timeout=1500';
SELECT * FROM pg_temp.behaviors('connect_timeout', 'send_timeout', 'receive_timeout', '_poll_timeout');
SELECT mc_get('cfg:k');
SET pylibmc_pg.behaviors = 'num_replicas=0, auto_eject=true, retry_timeout=3, remove_failed=1, failure_limit=2, dead_timeout=10';
SELECT * FROM pg_temp.behaviors('num_replicas', 'auto_eject', 'retry_timeout', 'remove_failed', 'failure_limit', 'dead_timeout');
-- replicas make libmemcached 1.1.4 misread replies: refused
SET pylibmc_pg.behaviors = 'num_replicas=1';
-- _retry_timeout is an alias of retry_timeout
SET pylibmc_pg.behaviors = '_retry_timeout=4';
SELECT * FROM pg_temp.behaviors('retry_timeout', '_retry_timeout');
-- the "private" ones
SET pylibmc_pg.behaviors = '_io_msg_watermark=100, _io_bytes_watermark=1000, _io_key_prefetch=1, _hash_with_prefix_key=true, _noreply=false, _sort_hosts=true, _socket_send_size=65536, _socket_recv_size=65536';
SELECT * FROM pg_temp.behaviors('_io_msg_watermark', '_io_bytes_watermark', '_io_key_prefetch',
								'_hash_with_prefix_key', '_noreply', '_sort_hosts',
								'_socket_send_size', '_socket_recv_size');
SELECT mc_set('cfg:k', 'private'), mc_get('cfg:k');
-- pickle_protocol is pylibmc's own: accepted and shown
SET pylibmc_pg.behaviors = 'pickle_protocol=2';
SELECT * FROM pg_temp.behaviors('pickle_protocol');
-- names and words are case-insensitive; a trailing comma is fine
SET pylibmc_pg.behaviors = 'TCP_NODELAY=Off, Hash=MD5,';
SELECT * FROM pg_temp.behaviors('tcp_nodelay', 'hash');
-- later settings win
SET pylibmc_pg.behaviors = 'connect_timeout=100, connect_timeout=200';
SELECT * FROM pg_temp.behaviors('connect_timeout');
RESET pylibmc_pg.behaviors;
SELECT * FROM pg_temp.behaviors('connect_timeout', 'hash', 'tcp_nodelay', 'pickle_protocol');

------------------------------------------------------------------------
-- pylibmc_pg.behaviors: refused at SET time
------------------------------------------------------------------------
SET pylibmc_pg.behaviors = 'bogus=1';
SET pylibmc_pg.behaviors = 'namespace=x';
SET pylibmc_pg.behaviors = 'behaviours=1';
SET pylibmc_pg.behaviors = 'tcp_nodelay=maybe';
SET pylibmc_pg.behaviors = 'tcp_nodelay';
SET pylibmc_pg.behaviors = 'tcp_nodelay=';
SET pylibmc_pg.behaviors = 'connect_timeout=-1';
SET pylibmc_pg.behaviors = 'connect_timeout=2147483648';
SET pylibmc_pg.behaviors = 'connect_timeout=1.5';
SET pylibmc_pg.behaviors = 'hash=nope';
SET pylibmc_pg.behaviors = 'hash=2';
SET pylibmc_pg.behaviors = 'ketama_hash=99';
SET pylibmc_pg.behaviors = 'distribution=nope';
SET pylibmc_pg.behaviors = 'pickle_protocol=6';
SET pylibmc_pg.behaviors = 'tcp_nodelay=1,,cas=1';
SET pylibmc_pg.behaviors = ',tcp_nodelay=1';
-- no reply could be checked with these on
SET pylibmc_pg.behaviors = '_noreply=true';
SET pylibmc_pg.behaviors = 'buffer_requests=true';
-- values libmemcached itself refuses (as pylibmc: error 38)
SET pylibmc_pg.behaviors = 'hash=hsieh';
SET pylibmc_pg.behaviors = 'distribution=consistent max';
-- nothing was changed by the refused values
SHOW pylibmc_pg.behaviors;
SELECT mc_get('cfg:k');

------------------------------------------------------------------------
-- SASL settings
------------------------------------------------------------------------
-- checked at the next call, as a combination (SQLSTATE 55000)
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SET pylibmc_pg.username = 'someone';
SELECT pg_temp.try($$SELECT mc_get('cfg:k')$$) AS username_only;
SET pylibmc_pg.password = 'secret';
SELECT pg_temp.try($$SELECT mc_get('cfg:k')$$) AS without_binary;
RESET pylibmc_pg.username;
SELECT pg_temp.try($$SELECT mc_get('cfg:k')$$) AS password_only;
RESET pylibmc_pg.password;
SELECT mc_get('cfg:k') AS works_again;

------------------------------------------------------------------------
-- The client is rebuilt only after a real change
------------------------------------------------------------------------
-- memcached counts every connection it accepts; nothing else talks to this
-- server while the suite runs.
CREATE FUNCTION pg_temp.conns() RETURNS bigint
LANGUAGE sql AS $$
	SELECT value::bigint FROM mc_stats() WHERE name = 'total_connections'
$$;
SELECT pg_temp.conns() AS c \gset
-- calls with nothing changed reuse the connection
SELECT mc_get('cfg:k'), mc_set('cfg:k', 'again'), mc_get('cfg:k');
SELECT pg_temp.conns() - :c AS new_connections;
SELECT pg_temp.conns() AS c \gset
-- a SET to the value in use, or to settings that do not shape the client
SET pylibmc_pg.servers = :'tcp';
SET pylibmc_pg.behaviors = '';
SET pylibmc_pg.on_error = 'warning';
SELECT mc_get('cfg:k');
SELECT pg_temp.conns() - :c AS new_connections;
RESET pylibmc_pg.on_error;
-- a change undone before the next call
SET pylibmc_pg.servers = :'unix';
SET pylibmc_pg.servers = :'tcp';
BEGIN;
SET LOCAL pylibmc_pg.behaviors = 'connect_timeout=900';
ROLLBACK;
SELECT mc_get('cfg:k');
SELECT pg_temp.conns() - :c AS new_connections;
SELECT pg_temp.conns() AS c \gset
-- a real change: a new client, a new connection (and the old one closed)
SET pylibmc_pg.behaviors = 'connect_timeout=900';
SELECT mc_get('cfg:k');
SELECT pg_temp.conns() - :c AS new_connections;
SELECT * FROM pg_temp.behaviors('connect_timeout');
SELECT pg_temp.conns() AS c \gset
RESET pylibmc_pg.behaviors;
SELECT mc_get('cfg:k');
SELECT pg_temp.conns() - :c AS new_connections;
SELECT * FROM pg_temp.behaviors('connect_timeout');

SELECT mc_delete('cfg:k');
