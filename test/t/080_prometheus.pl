# test/t/080_prometheus.pl: the cluster-wide counters through Debian's
# prometheus-postgres-exporter (0.11) and contrib/prometheus/pylibmc_pg.yaml
# (doc/operations.md, "Prometheus").
#
#   - A node with shared_preload_libraries = 'pylibmc_pg' gets known
#     traffic: sets, gets that hit and miss, gets to a refused port
#     (on_error = ignore), commit-time deletes to a SIGSTOPped memcached
#     (the stale-entry alarm).  The exporter, connected as a pg_monitor
#     member with the queries file, serves exactly those numbers on
#     /metrics, per database, role, memcached server and operation; bytes
#     and time equal what mc_cluster_stats shows; the alarm is its own
#     series.  More traffic moves the counters by exactly that much.
#   - Restarted with pylibmc_pg.cluster_stats_max = 10, 12 distinct
#     entries: the evictions metric says how many were evicted.
#
# The exporter is the packaged binary: missing, the suite fails (the test
# command installs it).
use strict;
use warnings;

use HTTP::Tiny;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 26;

my $EXPORTER = '/usr/bin/prometheus-postgres-exporter';
use File::Basename qw(dirname);
use Cwd qw(abs_path);
my $QUERIES = abs_path(dirname(__FILE__) . '/../..') . '/contrib/prometheus/pylibmc_pg.yaml';

ok(-x $EXPORTER, "$EXPORTER is installed (Debian's prometheus-postgres-exporter)")
  or BAIL_OUT('no prometheus-postgres-exporter');
ok(-r $QUERIES, "the queries file $QUERIES is there") or BAIL_OUT('no queries file');

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $DOWN  = '127.0.0.1:' . $fleet->free_port;
my $hung  = $fleet->memcached('hung', args => [ '-m', 16 ]);
my $HUNG  = $hung->addr;

my $node = pmc_node('prom',
	"shared_preload_libraries = 'pylibmc_pg'\npylibmc_pg.servers = '$TCP'");
pmc_createdb($node, 'prom_a');
sub su { return sql($node, 'prom_a', [@_], verbose => 1); }
su('CREATE ROLE prom_r1 LOGIN', 'CREATE ROLE prom_r2 LOGIN',
	'CREATE ROLE prom_mon LOGIN IN ROLE pg_monitor');

# ---------- the exporter ----------

my $exporter;
my $URL;
sub start_exporter
{
	my $port = $fleet->free_port;
	$URL = "http://127.0.0.1:$port/metrics";
	$exporter = $fleet->spawn(
		'exporter',
		[
			$EXPORTER, "--web.listen-address=127.0.0.1:$port",
			"--extend.query-path=$QUERIES", '--disable-default-metrics',
			'--disable-settings-metrics', '--log.level=warn'
		],
		env => {
			DATA_SOURCE_NAME => 'host=' . $node->host . ' port=' . $node->port
			  . ' user=prom_mon dbname=prom_a sslmode=disable'
		},
		ready => sub { HTTP::Tiny->new(timeout => 2)->get($URL)->{success} });
	return;
}

# scrape: /metrics as { 'name{label="v",...}' => value }, the labels in
# order (the exporter sorts them by name), without the exporter's own `server` label (the PostgreSQL server);
# only pylibmc_pg_* series, and pg_up.
sub scrape
{
	my $r = HTTP::Tiny->new(timeout => 10)->get($URL);
	die "scrape $URL: $r->{status} $r->{reason}" unless $r->{success};
	my %m;
	for my $line (split /\n/, $r->{content})
	{
		next if $line =~ /^#/;
		next unless $line =~ /^((?:pylibmc_pg|pg_up)\w*)(?:\{(.*)\})?\s+(\S+)$/;
		my ($name, $labels, $value) = ($1, $2 // '', $3);
		my @l = grep { !/^server=/ } ($labels =~ /(\w+="(?:[^"\\]|\\.)*")/g);
		$m{ $name . (@l ? '{' . join(',', @l) . '}' : '') } = $value;
	}
	return \%m;
}

# series M, NAME: the series of one metric, "labels value" per line, sorted
sub series
{
	my ($m, $name) = @_;
	my $NAMES = sub {
		my $s = shift;
		$s =~ s/memcached="\Q$TCP\E"/memcached="tcp"/;
		$s =~ s/memcached="\Q$DOWN\E"/memcached="refused"/;
		$s =~ s/memcached="\Q$HUNG\E"/memcached="hung"/;
		return $s;
	};
	return join "\n", sort map { $NAMES->(s/^\Q$name\E//r) . ' ' . $m->{$_} }
	  grep { /^\Q$name\E(\{|$)/ } keys %$m;
}

sub sorted { return join "\n", sort split /\n/, $_[0]; }

# ---------- known traffic ----------

# prom_r1: 3 stored sets, 4 hits and 2 misses
is( sql($node, 'prom_a',
		[
			"SELECT count(*) FILTER (WHERE mc_set('prom:a' || i, 'value-' || i)) FROM generate_series(1, 3) i",
			"SELECT count(mc_get(k)) FROM unnest(ARRAY['prom:a1', 'prom:a2', 'prom:a3', 'prom:a1', 'prom:no1', 'prom:no2']) k"
		],
		user => 'prom_r1'),
	"3\n4",
	'prom_r1: 3 sets stored, 4 of 6 gets hit');
# prom_r2: 2 gets to a refused server, quietly
is( su("SET pylibmc_pg.servers = '$DOWN'", 'SET pylibmc_pg.on_error = ignore',
		'SET ROLE prom_r2', "SELECT count(mc_get('prom:e' || i)) FROM generate_series(1, 2) i"),
	'0', 'prom_r2: 2 gets to a refused server fail quietly');

# commit-time deletes to a stopped memcached: the stale-entry alarm
sub failed_deletes
{
	my ($n) = @_;
	$hung->pause;
	my $out = su("SET pylibmc_pg.servers = '$HUNG'",
		"SET pylibmc_pg.behaviors = 'connect_timeout=300, _poll_timeout=300'",
		'SET ROLE prom_r1', 'BEGIN',
		"SELECT count(mc_delete_on_commit('prom:d' || i)) FROM generate_series(1, $n) i",
		'COMMIT');
	$hung->resume;
	return $out;
}
like(failed_deletes(2), qr/WARNING:  08[0-9A-Z]{3}: could not delete 2 of 2 keys/,
	'prom_r1: 2 commit-time deletes to a stopped memcached fail (WARNING)');

# ---------- scrape ----------

start_exporter();
my $m = scrape();
is($m->{pg_up}, 1, 'the exporter reaches the node as a pg_monitor member');

is(series($m, 'pylibmc_pg_calls'), sorted(qq({datname="prom_a",memcached="hung",operation="delete_on_commit",rolname="prom_r1"} 2
{datname="prom_a",memcached="tcp",operation="get",rolname="prom_r1"} 6
{datname="prom_a",memcached="tcp",operation="set",rolname="prom_r1"} 3
{datname="prom_a",memcached="refused",operation="get",rolname="prom_r2"} 2)),
	'pylibmc_pg_calls: one series per database, role, memcached server and operation, the exact counts');
is(series($m, 'pylibmc_pg_hits'), sorted(qq({datname="prom_a",memcached="hung",operation="delete_on_commit",rolname="prom_r1"} 0
{datname="prom_a",memcached="tcp",operation="get",rolname="prom_r1"} 4
{datname="prom_a",memcached="tcp",operation="set",rolname="prom_r1"} 3
{datname="prom_a",memcached="refused",operation="get",rolname="prom_r2"} 0)), 'pylibmc_pg_hits');
is(series($m, 'pylibmc_pg_misses'), sorted(qq({datname="prom_a",memcached="hung",operation="delete_on_commit",rolname="prom_r1"} 0
{datname="prom_a",memcached="tcp",operation="get",rolname="prom_r1"} 2
{datname="prom_a",memcached="tcp",operation="set",rolname="prom_r1"} 0
{datname="prom_a",memcached="refused",operation="get",rolname="prom_r2"} 0)), 'pylibmc_pg_misses');
is(series($m, 'pylibmc_pg_errors'), sorted(qq({datname="prom_a",memcached="hung",operation="delete_on_commit",rolname="prom_r1"} 2
{datname="prom_a",memcached="tcp",operation="get",rolname="prom_r1"} 0
{datname="prom_a",memcached="tcp",operation="set",rolname="prom_r1"} 0
{datname="prom_a",memcached="refused",operation="get",rolname="prom_r2"} 2)), 'pylibmc_pg_errors');
is($m->{pylibmc_pg_invalidation_failed_deletes}, 2,
	'the stale-entry alarm: pylibmc_pg_invalidation_failed_deletes 2');

# bytes and times: what mc_cluster_stats shows, to the byte and the microsecond
my $VIEW = "SELECT string_agg(format('{datname=\"prom_a\",memcached=\"%%s\",operation=\"%%s\",rolname=\"%%s\"} %%s',
	CASE server WHEN '$TCP' THEN 'tcp' WHEN '$DOWN' THEN 'refused' WHEN '$HUNG' THEN 'hung' END, operation, rolname, %s),
	E'\\n' ORDER BY rolname, server, operation) FROM mc_cluster_stats";
sub view { return su(sprintf($VIEW, @_)); }
# bytes: keys and values sent (7-byte keys and values, the misses' keys 8),
# values received (4 hits of 7 bytes); and what mc_cluster_stats shows
is(series($m, 'pylibmc_pg_bytes_sent'), sorted(qq({datname="prom_a",memcached="hung",operation="delete_on_commit",rolname="prom_r1"} 14
{datname="prom_a",memcached="tcp",operation="get",rolname="prom_r1"} 44
{datname="prom_a",memcached="tcp",operation="set",rolname="prom_r1"} 42
{datname="prom_a",memcached="refused",operation="get",rolname="prom_r2"} 14)),
	'pylibmc_pg_bytes_sent: the keys and values sent');
is(series($m, 'pylibmc_pg_bytes_received'), sorted(qq({datname="prom_a",memcached="hung",operation="delete_on_commit",rolname="prom_r1"} 0
{datname="prom_a",memcached="tcp",operation="get",rolname="prom_r1"} 28
{datname="prom_a",memcached="tcp",operation="set",rolname="prom_r1"} 0
{datname="prom_a",memcached="refused",operation="get",rolname="prom_r2"} 0)),
	'pylibmc_pg_bytes_received: the values received');
is(series($m, 'pylibmc_pg_bytes_sent') . "\n" . series($m, 'pylibmc_pg_bytes_received'),
	sorted(view('bytes_sent')) . "\n" . sorted(view('bytes_received')), '... both as the view shows them');
# seconds: the exporter prints a float64 with Go's shortest representation
my %secs = map { /^(\S+) (\S+)$/ ? ($1 => $2) : () } split /\n/, series($m, 'pylibmc_pg_time_seconds');
my %want = map { /^(\S+) (\S+)$/ ? ($1 => $2) : () } split /\n/, view('total_time_ms / 1000.0');
is_deeply([ sort keys %secs ], [ sort keys %want ], 'pylibmc_pg_time_seconds: the same series');
ok( (keys %want) == 4 && !grep { abs($secs{$_} - $want{$_}) > 1e-9 * (1 + $want{$_}) } keys %want,
	'... and the seconds the view shows (total_time_ms / 1000)')
  or diag explain { exporter => \%secs, view => \%want };
ok((grep { $_ > 0 } values %secs) >= 3, '... time is counted');

# ---------- more traffic moves the counters by exactly that much ----------

is( sql($node, 'prom_a', ["SELECT count(mc_get('prom:a2')) FROM generate_series(1, 5)"],
		user => 'prom_r1'),
	5, 'prom_r1: 5 more hits');
like(failed_deletes(3), qr/could not delete 3 of 3 keys/, '3 more commit-time deletes fail');
$m = scrape();
is( join(' ', map { $m->{ "pylibmc_pg_$_\{datname=\"prom_a\",memcached=\"$TCP\",operation=\"get\",rolname=\"prom_r1\"}" } } qw(calls hits misses)),
	'11 9 2', 'the next scrape: prom_r1 gets: calls 11, hits 9, misses 2');
is($m->{pylibmc_pg_invalidation_failed_deletes}, 5, '... the stale-entry alarm went from 2 to 5');
is($m->{pylibmc_pg_stats_evicted}, 0, 'pylibmc_pg_stats_evicted 0: nothing was evicted');

# ---------- evictions ----------

$exporter->stop;
$node->append_conf('postgresql.conf', 'pylibmc_pg.cluster_stats_max = 10');
$node->restart;
# 12 operations as prom_r1: 12 entries in a table of 10
is( sql($node, 'prom_a',
		[
			"SELECT mc_set('prom:x', 1)",     "SELECT mc_add('prom:y', 1)",
			"SELECT mc_replace('prom:x', 2)", "SELECT mc_append('prom:x', '0')",
			"SELECT mc_prepend('prom:x', '1')", "SELECT mc_incr('prom:x')",
			"SELECT mc_decr('prom:x')",       "SELECT mc_touch('prom:x', 60)",
			"SELECT mc_delete('prom:y')",     "SELECT count(*) FROM mc_get_multi(ARRAY['prom:x'])",
			"SELECT mc_get('prom:x')",        "SELECT mc_cas('prom:x', 'v', 1)"
		],
		user => 'prom_r1') =~ tr/\n/ /r,
	't t t t t 121 120 t t 1 120 f', '12 distinct operations after a restart with cluster_stats_max = 10');
my $evicted = su('SELECT evicted FROM mc_cluster_stats_info');
is($evicted, 2, 'mc_cluster_stats_info: 2 entries evicted (one for each new entry beyond 10)');
start_exporter();
$m = scrape();
is($m->{pylibmc_pg_stats_evicted}, $evicted, "pylibmc_pg_stats_evicted $evicted, as the view");
is( scalar(grep { /^pylibmc_pg_calls\{/ } keys %$m),
	su('SELECT count(*) FROM mc_cluster_stats'),
	'one pylibmc_pg_calls series per entry left');
