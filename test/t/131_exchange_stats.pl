# test/t/131_exchange_stats.pl: mc_client_stats() counts every server or
# network failure as an error, whatever on_error does.
#
#   - an mc_get_multi that could not reach its server (a port nothing
#     listens on) counts an error, not a miss, under on_error 'ignore',
#     'warning' and 'error'; the same with one live and one down server (a
#     partial failure);
#   - a commit-time batch (1000 keys queued by mc_delete_on_commit) to a
#     SIGSTOPped server counts no hit and at least one error for
#     delete_on_commit (the WARNING says none of the keys was deleted).
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 11;

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $DOWN  = '127.0.0.1:' . $fleet->free_port;
my $node  = pmc_node('stats', "pylibmc_pg.servers = '$TCP'");
my $DB    = 'pmc_exch_stats';
pmc_createdb($node, $DB);

my $STATS = "SELECT 'calls=' || sum(calls) || ' hits=' || sum(hits) || ' misses=' || sum(misses) "
  . "|| ' errors=' || sum(errors) FROM mc_client_stats()";

# counts SERVERS MODE OP: the counters of OP after one get_multi in a fresh
# session (its failure, if any, is reported, then the counters read); psql's
# stdout only, as the bash version's 2>/dev/null
sub counts
{
	my ($servers, $mode, $op) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run(
		[ 'psql', '-X', '-q', '-At', '-h', $node->host, '-p', $node->port, '-d', $DB,
			'-c', "SET pylibmc_pg.servers = '$servers'", '-c', "SET pylibmc_pg.on_error = '$mode'",
			'-c', 'SET client_min_messages = error',
			'-c', "SELECT count(*) FROM mc_get_multi(ARRAY['st:a', 'st:b', 'st:c', 'st:d'])",
			'-c', "$STATS WHERE operation = '$op'" ],
		'>', \$out, '2>', \$err);
	return (split /\n/, $out)[-1] // '';
}

for my $mode (qw(ignore warning error))
{
	my $c = counts($DOWN, $mode, 'get_multi');
	like($c, qr/errors=[1-9]/, "on_error=$mode: a get_multi from a down server counts an error ($c)");
	like($c, qr/misses=0 /, "on_error=$mode: ... not a miss");
}
for my $mode (qw(ignore error))
{
	my $c = counts("$TCP, $DOWN", $mode, 'get_multi');
	like($c, qr/errors=[1-9]/, "on_error=$mode: a get_multi over a live and a down server counts an error ($c)");
}

# ---- a commit-time batch to a stopped server ----
my $d = $fleet->memcached('exch-stats-stopped', args => [ '-m', 16 ]);
my $D = $d->addr;
$d->pause_stopped;
my $out = sql($node, $DB, [], verbose => 1, stdin => <<SQL);
SET pylibmc_pg.servers = '$D';
SET pylibmc_pg.behaviors = 'connect_timeout=500, _poll_timeout=500';
BEGIN;
SELECT count(*) FROM (SELECT mc_delete_on_commit('st:inv:' || i) FROM generate_series(1, 1000) i) s;
COMMIT;
$STATS WHERE operation = 'delete_on_commit';
SQL
$d->resume;
like($out, qr/WARNING:  08[0-9A-Z]{3}: could not delete 1000 of 1000 keys/,
	'a commit-time batch of 1000 keys to a stopped server warns that none was deleted');
my $c = (split /\n/, $out)[-1] // '';
diag("delete_on_commit counters: $c");
like($c, qr/hits=0 /,      "... and counts no hit ($c)");
like($c, qr/errors=[1-9]/, '... and counts errors');
