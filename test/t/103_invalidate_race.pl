# test/t/103_invalidate_race.pl: mc_delete_on_commit / mc_invalidate seen
# from a second session.
#   1. the race it closes: a reader refills the cache from the old committed
#      row while the writer's transaction is open; the delete at commit
#      removes that stale refill (an immediate mc_delete in the trigger
#      would not: checked too, to show why the queue exists);
#   2. when COMMIT returns, the deletes have been applied: another session
#      reading right after sees no key (small batch and buffered batch);
#   3. a server that accepts connections but never answers: the barrier
#      after the quiet deletes notices it, COMMIT warns and still commits,
#      within a few poll timeouts, not one per key.
use strict;
use warnings;

use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 12;

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $node  = pmc_node('race', "pylibmc_pg.servers = '$TCP'");
my $DB    = 'pmc_invalidate_tap';
pmc_createdb($node, $DB);

# qdb SQL: a new session on $DB (servers: $TCP), what it printed
sub qdb { return sql($node, $DB, [ $_[0] ], quiet => 0); }

qdb(q{CREATE TABLE account (id int PRIMARY KEY, balance int);
   INSERT INTO account VALUES (1, 100), (2, 100);
   CREATE TRIGGER account_cache AFTER INSERT OR UPDATE OR DELETE ON account
     FOR EACH ROW EXECUTE FUNCTION mc_invalidate('race:account:{id}');
   CREATE TABLE account_eager (id int PRIMARY KEY, balance int);
   INSERT INTO account_eager VALUES (1, 100);
   CREATE FUNCTION eager_delete() RETURNS trigger LANGUAGE plpgsql AS
     $$ BEGIN PERFORM mc_delete('race:eager:' || NEW.id); RETURN NULL; END $$;
   CREATE TRIGGER account_eager_cache AFTER UPDATE ON account_eager
     FOR EACH ROW EXECUTE FUNCTION eager_delete();
   -- the reader's cache-aside read: the cached value, or the row, cached
   CREATE FUNCTION read_balance(key text, tbl regclass, k int) RETURNS int LANGUAGE plpgsql AS $$
   DECLARE v int;
   BEGIN
     v := mc_get(key, NULL::bigint);
     IF v IS NULL THEN
       EXECUTE format('SELECT balance FROM %s WHERE id = $1', tbl) INTO v USING k;
       PERFORM mc_set(key, v::bigint, 300);
     END IF;
     RETURN v;
   END $$;});

# The writer: one long-lived session, so that its transaction stays open
# while other sessions act.
my $writer = pmc_session($node, $DB);
sub writer
{
	my ($sql) = @_;
	defined $writer->query($sql, 10) or diag("writer did not finish: $sql");
	return;
}

# --- 1. the race ---------------------------------------------------------
qdb("SELECT mc_delete('race:account:1'), mc_delete('race:eager:1')");
writer('BEGIN; UPDATE account SET balance = 50 WHERE id = 1; UPDATE account_eager SET balance = 50 WHERE id = 1;');
# the reader misses (the eager trigger already deleted) and refills from
# the committed row, which is still the old one
is(qdb("SELECT read_balance('race:account:1', 'account', 1)"), '100',
	"reader sees the old committed row while the writer's transaction is open");
is(qdb("SELECT read_balance('race:eager:1', 'account_eager', 1)"), '100',
	'reader refills the eager-deleted key from the old row too');
writer('COMMIT;');
is(qdb("SELECT coalesce(mc_get('race:account:1'), 'gone')"), 'gone', 'delete at commit removed the stale refill');
is(qdb("SELECT read_balance('race:account:1', 'account', 1)"), '50', 'next reader caches the committed value');
is(qdb("SELECT mc_get('race:eager:1')"), '100',
	'an immediate mc_delete in the trigger leaves the stale refill (what the queue avoids)');

# a rolled-back writer leaves the cache alone
qdb("SELECT mc_set('race:account:2', 100::bigint)");
writer('BEGIN; UPDATE account SET balance = 0 WHERE id = 2; ROLLBACK;');
is(qdb("SELECT mc_get('race:account:2')"), '100', 'rollback sends nothing');
$writer->quit;

# --- 2. applied when COMMIT returns -------------------------------------
my $bad = 0;
for (1 .. 10)
{
	qdb("SELECT mc_set('race:account:1', 1::bigint)");
	qdb('UPDATE account SET balance = balance + 1 WHERE id = 1');
	$bad++ unless qdb("SELECT coalesce(mc_get('race:account:1'), 'gone')") eq 'gone';
}
is($bad, 0, 'a small batch is applied when COMMIT returns (10 tries, reader in another session)');

qdb('INSERT INTO account SELECT g, 0 FROM generate_series(1000, 5999) g');
$bad = 0;
for my $i (1 .. 3)
{
	qdb("SELECT count(mc_set('race:account:' || g, 1::bigint)) FROM generate_series(1000, 5999) g");
	qdb('UPDATE account SET balance = balance + 1 WHERE id >= 1000');
	my $left = qdb(
		"SELECT count(*) FROM mc_get_multi(array(SELECT 'race:account:' || g FROM generate_series(1000, 5999) g))");
	next if $left eq '0';
	$bad++;
	diag("try $i: $left keys left");
}
is($bad, 0, 'a buffered batch of 5,000 is applied when COMMIT returns (3 tries)');

# --- 3. a server that accepts but never answers ---------------------------
my $SILENT_PORT = $fleet->free_port;
$fleet->spawn(
	'silent',
	[ 'python3', '-c', <<'PY', $SILENT_PORT ],
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
def swallow(c):
    while c.recv(65536):
        pass
while True:
    c, _ = s.accept()
    threading.Thread(target=swallow, args=(c,), daemon=True).start()
PY
	ready => sub {
		IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $SILENT_PORT, Timeout => 1);
	});

my $start = now_ms();
my $out   = sql($node, $DB, [], quiet => 0, stdin => <<EOF);
BEGIN;
SET pylibmc_pg.servers = '127.0.0.1:$SILENT_PORT';
UPDATE account SET balance = balance + 1 WHERE id >= 1000;
COMMIT;
EOF
my $elapsed_ms = now_ms() - $start;
like($out, qr/WARNING:  could not delete 5000 of 5000 keys queued by mc_delete_on_commit/,
	'silent server: COMMIT warns that the 5000 deletes are not known to be applied');
like($out, qr/^COMMIT$/m, 'silent server: the commit stands');
is(qdb('SELECT count(*) FROM account WHERE id >= 1000 AND balance = 4'), '5000', 'silent server: the rows are updated');
ok($elapsed_ms < 10000, "silent server: COMMIT took $elapsed_ms ms (bounded by the poll timeout, not per key)");
