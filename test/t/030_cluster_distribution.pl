# test/t/030_cluster_distribution.pl: several servers, libmemcached's
# distribution through pylibmc_pg.behaviors.  Keys are counted per server
# exactly: each server alone is asked for all the keys with one get_multi.
#
#   - modula (the default): 3000 keys within 10% of even;
#   - ketama=true: within 10% of even, and the placement is exactly
#     pylibmc's: pylibmc with the same servers and behaviors reads every key
#     SQL wrote.  Ketama's continuum points come from the "host:port"
#     strings, so its spread over three servers is a property of their
#     names: about 8% (one standard deviation) per server, from name set to
#     name set.  With random ports, 10% failed for about a quarter of the
#     port triples.  So the four servers here have fixed names,
#     127.77.0.1-4 on port 41211 (or 41311 if that is taken: both sets were
#     checked with libmemcached's memcached_generate_hash to spread within
#     10%: 41211 by 5.2% and weights by 8.3%, 41311 by 8.6% and 2.6%), and
#     the test is deterministic;
#   - one server down, on_error=ignore: exactly that server's keys are lost,
#     every other read is served, with no WARNING; on_error=error names it;
#   - remove_failed=1 (with retry_timeout=1, dead_timeout=60, pylibmc's
#     failover recipe): writes re-route to the live servers once libmemcached
#     ejects the dead one (after failure_limit = 5 failed retries), what
#     they wrote reads back, and mc_delete_on_commit deletes it at commit;
#   - weights host:port:weight with ketama_weighted=true: shares within 10%
#     of 1:2:3, placement exactly pylibmc's;
#   - a fourth server remaps between 15% and 35% of the keys, and exactly
#     those the fourth server now owns.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

plan tests => 29;

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;

# start_fixed PORT: the four servers on 127.77.0.1-4:PORT; none if one
# cannot start (the port is taken), with those already started stopped
sub start_fixed
{
	my ($port) = @_;
	my @mc;
	for my $i (1 .. 4)
	{
		my $mc = $fleet->memcached("cluster-dist-$i", host => "127.77.0.$i", port => $port,
			args => [ '-m', 16 ], try => 1);
		if (!$mc)
		{
			$_->stop for @mc;
			return ();
		}
		push @mc, $mc;
	}
	return @mc;
}
my @MC = start_fixed(41211);
@MC = start_fixed(41311) unless @MC;
BAIL_OUT('cannot start memcached on 127.77.0.1-4:41211 or :41311') unless @MC;
my ($C1, $C2, $C3, $C4) = map { $_->addr } @MC;
note "servers: $C1 $C2 $C3 $C4";
my %C     = (1 => $C1, 2 => $C2, 3 => $C3, 4 => $C4);
my $THREE = "$C1,$C2,$C3";
my $N     = 3000;

my $node = pmc_node('dist', "pylibmc_pg.servers = '$TCP'");
pmc_createdb($node, 'pmc_cluster_distribution');

sub qdb { return sql($node, 'pmc_cluster_distribution', [@_]); }
sub lines { return split /\n/, $_[0]; }

# keys PREFIX: the SQL array of PREFIX1..PREFIX$N
sub keys_of { return "ARRAY(SELECT '$_[0]' || i FROM generate_series(1, $N) i)"; }

# count_on ADDR PREFIX: how many of the keys that server holds
sub count_on
{
	my ($addr, $prefix) = @_;
	return qdb("SET pylibmc_pg.servers = '$addr'",
		'SELECT count(*) FROM mc_get_multi(' . keys_of($prefix) . ')');
}

# write SERVERS BEHAVIORS PREFIX: set PREFIX<i> = i for every i; the number stored
sub write_keys
{
	my ($servers, $behaviors, $prefix) = @_;
	return qdb("SET pylibmc_pg.servers = '$servers'", "SET pylibmc_pg.behaviors = '$behaviors'",
		"SELECT count(*) FILTER (WHERE mc_set('$prefix' || i, i)) FROM generate_series(1, $N) i");
}

# pylibmc_reads SERVERS BEHAVIORS_PY PREFIX: how many keys pylibmc reads
# back with the right value
sub pylibmc_reads
{
	my ($servers, $behaviors, $prefix) = @_;
	my $py = <<'PY';
import sys, json, pylibmc
servers, behaviors, prefix, n = sys.argv[1].split(","), json.loads(sys.argv[2]), sys.argv[3], int(sys.argv[4])
c = pylibmc.Client(servers, behaviors=behaviors)
keys = ["%s%d" % (prefix, i) for i in range(1, n + 1)]
got = c.get_multi(keys)
print(sum(1 for i, k in enumerate(keys, 1) if got.get(k) == i))
PY
	my $out = '';
	IPC::Run::run([ 'python3', '-', $servers, $behaviors, $prefix, $N ], '<', \$py, '>&', \$out);
	$out =~ s/\n+\z//;
	return $out;
}

# ---- modula ----
is(write_keys($THREE, '', 'dm:'), $N, "modula: $N keys stored on three servers");
my $total = 0;
for my $i (1 .. 3)
{
	my $n = count_on($C{$i}, 'dm:');
	between($n, 900, 1100, "modula: server $i holds $n keys (within 10% of 1000)");
	$total += $n || 0;
}
is($total, $N, 'modula: each key is on exactly one server');

# ---- ketama ----
is(write_keys($THREE, 'ketama=true', 'dk:'), $N, "ketama: $N keys stored");
$total = 0;
my %KCOUNT;
for my $i (1 .. 3)
{
	my $n = count_on($C{$i}, 'dk:');
	$KCOUNT{$i} = $n;
	between($n, 900, 1100, "ketama: server $i holds $n keys (within 10% of 1000)");
	$total += $n || 0;
}
is($total, $N, 'ketama: each key is on exactly one server');
is(pylibmc_reads($THREE, '{"ketama": true}', 'dk:'), $N,
	'ketama: pylibmc with the same servers finds every key where SQL put it');

# ---- one server down ----
my $victim_key =
  qdb("SET pylibmc_pg.servers = '$C2'", 'SELECT key FROM mc_get_multi(' . keys_of('dk:') . ') LIMIT 1');
$MC[1]->stop;
my $lost = $KCOUNT{2} || 0;
my $out = qdb("SET pylibmc_pg.servers = '$THREE'", "SET pylibmc_pg.behaviors = 'ketama=true'",
	"SET pylibmc_pg.on_error = 'ignore'",
	"SELECT count(*) FILTER (WHERE v = i::text), count(*) FILTER (WHERE v <> i::text)
	   FROM (SELECT i, mc_get('dk:' || i) AS v FROM generate_series(1, $N) i) s");
is($out, ($N - $lost) . '|0',
	'server 2 down, on_error=ignore: exactly its ' . ($KCOUNT{2} // '?') . ' keys are lost, the rest read right, no WARNING');
$out = qdb("SET pylibmc_pg.servers = '$THREE'", "SET pylibmc_pg.behaviors = 'ketama=true'",
	"SET pylibmc_pg.on_error = 'warning'",
	'SELECT count(*) FROM mc_get_multi(' . keys_of('dk:') . ')');
my $warnings = grep { /^WARNING:  could not get several keys on memcached server \Q$C2\E$/ } lines($out);
is("$warnings|" . ((lines($out))[-1] // ''), '1|' . ($N - $lost),
	'server 2 down, on_error=warning: get_multi returns the other servers\' keys and a WARNING naming it');
$out = qdb("SET pylibmc_pg.servers = '$THREE'", "SET pylibmc_pg.behaviors = 'ketama=true'",
	'SELECT count(*) FROM mc_get_multi(' . keys_of('dk:') . ')');
like((lines($out))[0] // '', qr/^ERROR:  could not get several keys on memcached server \Q$C2\E$/,
	'server 2 down, on_error=error: get_multi is an ERROR naming it');
$out = qdb("SET pylibmc_pg.servers = '$THREE'", "SET pylibmc_pg.behaviors = 'ketama=true'",
	"SELECT mc_get('$victim_key')");
like($out, qr/ERROR:  could not get key "\Q$victim_key\E" on memcached server \Q$C2\E/,
	'server 2 down, on_error=error: a key it owned is an ERROR naming it');

# ---- remove_failed: writes re-route ----
# one long-lived session; sess SQL: what it printed, stdout and stderr
my $sess = $node->background_psql('pmc_cluster_distribution', on_error_stop => 0);
sub sess
{
	my $from = length $sess->{stderr};
	my $o = $sess->query($_[0]);
	my $err = substr($sess->{stderr}, $from);
	$o =~ s/\n+\z//;
	return $err eq '' ? $o : "$o\n$err";
}
sess("SET pylibmc_pg.servers = '$THREE'; SET pylibmc_pg.behaviors = 'ketama=true, remove_failed=1, retry_timeout=1, dead_timeout=60'; SET pylibmc_pg.on_error = 'ignore'");
my $first = sess("SELECT count(*) FILTER (WHERE mc_set('dr:0:' || i, i)) FROM generate_series(1, 100) i");
between($first, 1, 99, "remove_failed: at first the dead server's share of 100 writes fails ($first stored)");
my $rerouted;
my $t0 = now_ms();
for my $r (1 .. 40)
{
	my $n = sess("SELECT count(*) FILTER (WHERE mc_set('dr:$r:' || i, i)) FROM generate_series(1, 100) i");
	if ($n eq '100') { $rerouted = $r; last; }
	usleep(500_000);
}
ok(defined $rerouted, 'remove_failed: writes re-route to the live servers (after ' . (now_ms() - $t0) . ' ms)');
my $r = $rerouted // 'x';
is(sess("SELECT count(*) FROM mc_get_multi(ARRAY(SELECT 'dr:$r:' || i FROM generate_series(1, 100) i))"),
	100, 'remove_failed: the re-routed keys read back');
# The commit-time batch goes through a second client that has not seen the
# failure yet: keys it would route to the dead server go through the main one.
$out = sess("BEGIN; SELECT count(mc_delete_on_commit('dr:$r:' || i)) FROM generate_series(1, 100) i; COMMIT");
unlike($out, qr/WARNING/, 'remove_failed: mc_delete_on_commit of the re-routed keys commits without a WARNING');
is(sess("SELECT count(*) FROM mc_get_multi(ARRAY(SELECT 'dr:$r:' || i FROM generate_series(1, 100) i))"),
	0, 'remove_failed: ... and deletes every one of them where it was written');
$sess->quit;
$MC[1]->restart or BAIL_OUT('cannot restart memcached');

# ---- weights ----
my $W = "$C1:1,$C2:2,$C3:3";
is(write_keys($W, 'ketama=true, ketama_weighted=true', 'dw:'), $N, "weights 1:2:3: $N keys stored");
for my $i (1 .. 3)
{
	my $n    = count_on($C{$i}, 'dw:');
	my $want = int($N * $i / 6);
	between($n, int($want * 9 / 10), int($want * 11 / 10),
		"weights: server $i (weight $i) holds $n keys (within 10% of $want)");
}
is(pylibmc_reads($W, '{"ketama": true, "ketama_weighted": true}', 'dw:'), $N,
	'weights: pylibmc with the same weights finds every key where SQL put it');

# ---- a fourth server ----
is(write_keys($THREE, 'ketama=true', 'da:'), $N, "ketama: $N keys stored on three servers");
$out = qdb("SET pylibmc_pg.servers = '$THREE,$C4'", "SET pylibmc_pg.behaviors = 'ketama=true'",
	"SELECT count(*) FILTER (WHERE v IS NULL), count(*) FILTER (WHERE v <> i::text)
	   FROM (SELECT i, mc_get('da:' || i) AS v FROM generate_series(1, $N) i) s");
my ($moved, $wrong) = split /\|/, $out, 2;
between($moved, int($N * 15 / 100), int($N * 35 / 100), "a fourth server remaps $moved of $N keys (15%..35%)");
is($wrong, 0, '... and every key still found reads right');
qdb("SET pylibmc_pg.servers = '$THREE,$C4'", "SET pylibmc_pg.behaviors = 'ketama=true'",
	"SELECT count(*) FROM generate_series(1, $N) i WHERE mc_get('da:' || i) IS NULL AND mc_set('da:' || i, i)");
is(count_on($C4, 'da:'), $moved, '... exactly the keys the fourth server now owns');
