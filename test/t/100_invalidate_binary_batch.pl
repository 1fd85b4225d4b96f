# test/t/100_invalidate_binary_batch.pl: the commit-time batch over the
# binary protocol sends quiet deletes (DELETEQ; SETQ for tombstones) and
# reads every error packet the server sends for them, however many keys are
# missing.
#
# With libmemcached 1.1.4 a quiet delete of a missing key left an error
# packet that the next request read as its own reply, so the batch sent one
# acknowledged delete per key; our copy skips those packets
# (patches/libmemcached/0007), and the sender reads them at a barrier every
# PMC_BATCH_KEYS keys (inval_send.c) so they never fill the connection.
# Checked on one server and on three, with 20,000 keys present and 30,000
# missing in one transaction (30,000 error packets, about 1 MB, far more
# than a connection buffers): every present key is gone, no WARNING, the
# counters count all 50,000 as applied, and the next transaction on the
# same connections is right (no packet left over).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 14;

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $MULTI = join ',', map { $fleet->memcached("m$_")->addr } 1 .. 3;
my $node  = pmc_node('binary_batch', "pylibmc_pg.servers = '$TCP'");
my $DB    = 'pmc_inval_binary_batch';
pmc_createdb($node, $DB);

sub qdb { return sql($node, $DB, [@_]); }

# round SERVERS LABEL [SETTING]: fill, queue, commit, check
sub round
{
	my ($servers, $label, $extra) = @_;
	my $out = qdb("SET pylibmc_pg.servers = '$servers'", 'SET pylibmc_pg.binary_protocol = on',
		(defined $extra ? ($extra) : ()),
		"SELECT count(*) FILTER (WHERE NOT mc_set('bb:p:' || i, 'v' || i)) FROM generate_series(1, 20000) i",
		"SELECT sum(calls) FROM mc_client_stats() WHERE operation = 'delete_on_commit'",
		'BEGIN',
		"SELECT count(*) FROM (SELECT mc_delete_on_commit('bb:p:' || i) FROM generate_series(1, 20000) i) d",
		"SELECT count(*) FROM (SELECT mc_delete_on_commit('bb:m:' || i) FROM generate_series(1, 30000) i) d",
		'COMMIT',
		"SELECT count(*) FROM mc_get_multi(array(SELECT 'bb:p:' || i FROM generate_series(1, 20000) i))",
		"SELECT sum(calls) || ' ' || sum(hits) || ' ' || sum(errors) FROM mc_client_stats() WHERE operation = 'delete_on_commit'",
		"SELECT mc_set('bb:after', 'ok')",
		'BEGIN',
		"SELECT mc_delete_on_commit('bb:m:again'), mc_delete_on_commit('bb:after')",
		'COMMIT',
		"SELECT coalesce(mc_get('bb:after'), 'gone') || ' ' || mc_set('bb:after2', 'x') || ' ' || mc_get('bb:after2')");
	my @L = grep { !/^(WARNING|DETAIL|HINT)/ } split /\n/, $out, -1;
	my $before = ($L[1] // '') eq '' ? 0 : $L[1];
	unlike($out, qr/WARNING/, "$label: the commit sends 50,000 quiet deletes without a WARNING");
	is($L[4] // '', '0', "$label: every present key is gone after the commit");
	my ($calls, $hits, $errors) = split / /, $L[5] // '';
	is(($calls // 0) - $before . ' ' . ($errors // ''), '50000 0',
		"$label: the counters count 50,000 deletes, no error");
	is($L[8] // '', 'gone true x',
		"$label: the next transaction's batch and the calls after it read their own replies");
	return;
}

round($TCP,   'one server');
round($MULTI, 'three servers');
round($TCP, 'one server, hold 30 s (quiet tombstones)', 'SET pylibmc_pg.invalidation_hold = 30');
is(qdb("SET pylibmc_pg.servers = '$TCP'", 'SET pylibmc_pg.binary_protocol = on',
		"SELECT encode((r).value, 'escape') || ' ' || (r).flags FROM (SELECT mc_get_raw('bb:p:7') r) s"),
	'N. 1', 'hold: the present keys hold the tombstone (N., flags 1)');
qdb("SET pylibmc_pg.servers = '$TCP'", 'SELECT mc_flush_all()');
is(qdb('SELECT 1'), '1', 'the session is fine at the end');
