# test/t/104_invalidate_memory.pl: the invalidation queue's memory is
# bounded: past work_mem the queued keys go to a temporary file and come
# back at commit; savepoints still drop exactly what they queued.
#
# A statement-level UPDATE of 100,000 rows under work_mem = 64kB: the
# backend's peak memory (VmHWM) grows by 4 MB at most (measured: 0.4 MB;
# without the spill to a file, 9 MB), and every key is deleted at COMMIT.
# The shared buffers and WAL buffers the UPDATE touches are touched first
# by the same UPDATE with the triggers off, so the growth measured is the
# backend's own memory.  Then ROLLBACK TO SAVEPOINT over keys that went to
# the file, and over keys still in memory, after keys that went to the
# file: the deletes sent are exactly those of the levels that committed.
# A queueing that fails inside a savepoint because the file exceeds
# temp_file_limit, rolled back to that savepoint, loses none of the keys
# queued before it.
#
# The queue's log and hash table are kept, emptied, for the next
# transaction when they take at most 1 MB (a 10,000-key transaction: about
# 450 kB), and freed when larger: pg_backend_memory_contexts shows them,
# and a key queued by an aborted transaction, or by a committed one, is
# queued (and deleted) again by the next.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 20;

my $ROWS  = 100000;
my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $node  = pmc_node('memory', "pylibmc_pg.servers = '$TCP'");
my $DB    = 'pmc_inval_memory';
pmc_createdb($node, $DB);

# script SQL: one psql session running SQL (a script, \gset and all)
my $out;
sub script { $out = sql($node, $DB, [], stdin => $_[0]); return $out; }
# field NAME: the value of the line "NAME=value" the last script printed
sub field { return $out =~ /^\Q$_[0]\E=(.*)$/m ? $1 : ''; }

sql($node, $DB, [
	"CREATE TABLE big (id int PRIMARY KEY, v int) WITH (fillfactor = 30);
   INSERT INTO big SELECT g, 0 FROM generate_series(1, $ROWS) g;
   SELECT mc_invalidate_triggers('big', 'mem:{id}');", 'VACUUM ANALYZE big',
	q{CREATE FUNCTION hwm() RETURNS bigint LANGUAGE sql AS
   $$ SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'),
                            'VmHWM:\s+(\d+)'))[1]::bigint $$;
   CREATE FUNCTION sent() RETURNS bigint LANGUAGE sql AS
   $$ SELECT coalesce(sum(calls), 0)::bigint FROM mc_client_stats()
        WHERE operation = 'delete_on_commit' $$;} ]);

script(<<SQL);
SET work_mem = '64kB';
SELECT count(mc_set('mem:' || i, 'cached')) FROM unnest(ARRAY[1, 50000, $ROWS]) i;
-- the pages and WAL buffers the UPDATE touches, touched once without triggers
SET session_replication_role = replica;
UPDATE big SET v = v + 1;
RESET session_replication_role;
VACUUM big;
SELECT sent() AS sent_before, hwm() AS hwm_before \\gset
UPDATE big SET v = v + 1;
SELECT 'growth_kb=' || (hwm() - :hwm_before);
SELECT 'sent=' || (sent() - :sent_before);
SELECT 'left=' || count(*) FROM mc_get_multi(ARRAY['mem:1', 'mem:50000', 'mem:$ROWS']);
SQL
my $growth = field('growth_kb');
diag("VmHWM growth for a $ROWS-row UPDATE with work_mem = 64kB: " . ($growth eq '' ? '?' : $growth) . ' kB');
between($growth eq '' ? 999999 : $growth, 0, 4096, "the queue of $ROWS keys stays small (VmHWM growth <= 4 MB)");
is(field('sent'), $ROWS, "each of the $ROWS keys is sent once");
is(field('left'), '0', 'the keys are deleted at COMMIT, from the file and from memory');
unlike($out, qr/WARNING|ERROR/, 'no warning');

# Savepoints over spilled keys: 20,000 keys (about 700 kB of queue) go to
# the file before the first savepoint.
my $keys = "ARRAY['mem:1', 'mem:20000', 'mem:20001', 'mem:40000', 'mem:45000', 'mem:50000', "
  . "'mem:60001', 'mem:70000', 'mem:90000']";
script(<<SQL);
SET work_mem = '64kB';
SELECT count(mc_set(k, 'cached')) FROM unnest($keys) k;
SELECT sent() AS sent_before \\gset
BEGIN;
UPDATE big SET v = v + 1 WHERE id <= 20000;
SAVEPOINT s1;
UPDATE big SET v = v + 1 WHERE id > 20000 AND id <= 40000;
ROLLBACK TO SAVEPOINT s1;
UPDATE big SET v = v + 1 WHERE id = 45000;
SAVEPOINT s2;
UPDATE big SET v = v + 1 WHERE id = 50000;
ROLLBACK TO SAVEPOINT s2;
SAVEPOINT s3;
UPDATE big SET v = v + 1 WHERE id > 60000 AND id <= 70000;
RELEASE SAVEPOINT s3;
SAVEPOINT s4;
UPDATE big SET v = v + 1 WHERE id > 80000;
ROLLBACK TO SAVEPOINT s4;
COMMIT;
SELECT 'sent=' || (sent() - :sent_before);
SELECT 'left=' || string_agg(key, ' ' ORDER BY key) FROM mc_get_multi($keys);
SQL
is(field('sent'), '30001',
	"after ROLLBACK TO SAVEPOINT over spilled keys, only the committed levels' keys are sent");
is(field('left'), 'mem:20001 mem:40000 mem:50000 mem:90000',
	"the rolled-back levels' keys stay cached, the others are deleted");
unlike($out, qr/WARNING|ERROR/, 'no warning');

# A queueing that fails (temp_file_limit) inside a savepoint, rolled back
# to it, loses nothing queued before it: the first key is queued under
# work_mem = 64kB (the queue's limit), 20,000 more go to the file, then
# 20,000 keys of 200 bytes exceed temp_file_limit while they are written,
# ROLLBACK TO SAVEPOINT, 100 more keys, COMMIT.
$keys = "ARRAY['tfl:first', 's:1', 's:10000', 's:20000', 't:1', 't:100', 'big:' || lpad('5', 196, '0')]";
script(<<SQL);
SELECT count(mc_set(k, 'cached')) FROM unnest($keys) k;
SET work_mem = '64kB';
BEGIN;
SELECT mc_delete_on_commit('tfl:first');
SET LOCAL work_mem = '64MB';
SET LOCAL temp_file_limit = '600kB';
SELECT count(mc_delete_on_commit('s:' || g)) FROM generate_series(1, 20000) g;
SAVEPOINT a;
SELECT count(mc_delete_on_commit('big:' || lpad(g::text, 196, '0'))) FROM generate_series(1, 20000) g;
ROLLBACK TO SAVEPOINT a;
SELECT count(mc_delete_on_commit('t:' || g)) FROM generate_series(1, 100) g;
COMMIT;
SELECT 'left=' || coalesce(string_agg(key, ' ' ORDER BY key), '') FROM mc_get_multi($keys);
SQL
like($out, qr/ERROR:  temporary file size exceeds "?temp_file_limit"?/,
	'the 20,000 keys of 200 bytes inside the savepoint exceed temp_file_limit');
is(field('left'), 'big:' . sprintf('%0196d', 5),
	'after ROLLBACK TO SAVEPOINT, every key queued before it (in the file and in memory) and after it is deleted');
unlike(join("\n", grep { !/temp_file_limit/ } split /\n/, $out),
	qr/WARNING|ERROR/, 'no other error, no warning (nothing lost at the read-back)');

# The temporary file exists while the transaction is open and is gone at
# its end, in the same session (a backend's exit would remove it anyway).
script(<<SQL);
SET work_mem = '64kB';
BEGIN;
UPDATE big SET v = v + 1;
SELECT 'during=' || count(*) FROM pg_ls_tmpdir();
ROLLBACK;
SELECT 'after_rollback=' || count(*) FROM pg_ls_tmpdir();
BEGIN;
UPDATE big SET v = v + 1;
COMMIT;
SELECT 'after_commit=' || count(*) FROM pg_ls_tmpdir();
SQL
between(field('during'), 1, 1000, 'past work_mem the queue is in a temporary file');
is(field('after_rollback'), '0', 'ROLLBACK removes it');
is(field('after_commit'),   '0', 'COMMIT removes it after the send');

# The buffers kept between transactions (one session throughout).
script(<<'SQL');
CREATE FUNCTION kept() RETURNS bigint LANGUAGE sql AS
$$ SELECT coalesce(sum(total_bytes), 0)::bigint FROM pg_backend_memory_contexts
     WHERE name = 'pylibmc_pg delete_on_commit buffers' $$;
BEGIN;
SELECT count(mc_delete_on_commit('keep:' || i)) FROM generate_series(1, 10000) i;
COMMIT;
SELECT 'kept_10000=' || kept();
SELECT count(mc_set(k, 'cached')) FROM unnest(ARRAY['keep:1', 'keep:2', 'keep:3']) k;
BEGIN;
SELECT count(mc_delete_on_commit('keep:' || i)) FROM generate_series(1, 10000) i;
ROLLBACK;
SELECT 'after_rollback=' || string_agg(key, ' ' ORDER BY key) FROM mc_get_multi(ARRAY['keep:1', 'keep:2', 'keep:3']);
SELECT sent() AS sent_before \gset
BEGIN;
SELECT mc_delete_on_commit('keep:1'), mc_delete_on_commit('keep:2');
COMMIT;
SELECT 'sent=' || (sent() - :sent_before);
SELECT 'after_commit=' || coalesce(string_agg(key, ' ' ORDER BY key), '') FROM mc_get_multi(ARRAY['keep:1', 'keep:2', 'keep:3']);
SELECT mc_set('keep:1', 'cached again');
BEGIN;
SELECT mc_delete_on_commit('keep:1');
COMMIT;
SELECT 'again=' || count(*) FROM mc_get_multi(ARRAY['keep:1']);
SET work_mem = '16MB';
BEGIN;
SELECT count(mc_delete_on_commit('keep:' || i)) FROM generate_series(1, 100000) i;
COMMIT;
SELECT 'kept_100000=' || kept();
DROP FUNCTION kept();
SQL
my $kept = field('kept_10000');
diag('kept after a 10,000-key transaction: ' . ($kept eq '' ? '?' : $kept) . ' bytes');
between($kept eq '' ? 0 : $kept, 300000, 1100000,
	"a 10,000-key queue's log and hash table are kept for the next transaction (at most 1 MB)");
is(field('after_rollback'), 'keep:1 keep:2 keep:3', 'ROLLBACK of 10,000 queued keys deletes nothing');
is(field('sent'), '2', 'keys the aborted transaction queued are queued again by the next one, on the kept buffers');
is(field('after_commit'), 'keep:3', 'and deleted at its COMMIT');
is(field('again'),        '0',      'a key a committed transaction queued is queued and deleted again by the next');
$kept = field('kept_100000');
diag('kept after a 100,000-key transaction: ' . ($kept eq '' ? '?' : $kept) . ' bytes');
between($kept eq '' ? 999999999 : $kept, 0, 65536, 'a queue larger than 1 MB is freed at the end of its transaction');
unlike($out, qr/WARNING|ERROR/, 'no warning');
