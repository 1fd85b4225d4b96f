# test/t/138_exchange_multi.pl: multi-key calls.
#
# mc_delete_multi and mc_set_multi (both forms) of 150,000 keys under
# statement_timeout = '300ms' are cancelled (57014) within 2 s (interrupts
# serviced between keys).  On a SIGSTOPped server with on_error = 'ignore'
# (and 'warning'), 10 keys cost about one timeout, not ten: a server that
# failed once in a call costs no further timeouts in that call (bound:
# 2.5 x _poll_timeout, measured inside the session).
#
# mc_get_multi over servers = 'live, down' (nothing listens on down) with
# ten keys stored, spread over both: on_error = 'error' is an ERROR of class
# 08 naming the down server (host:port); 'warning' gives the rows of the
# live server and a WARNING; 'ignore' the same rows, no WARNING.  In both
# protocols.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 29;

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
my $node  = pmc_node('multi');
my $DB    = 'pmc_exch_multi';
pmc_createdb($node, $DB);

sub qdb  { return sql($node, $DB, [@_]); }
sub qv   { return sql($node, $DB, [@_], verbose => 1); }

# exch_ms(sql): run sql, return the milliseconds it took
qdb(q{CREATE FUNCTION exch_ms(sql text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE t timestamptz := clock_timestamp();
BEGIN EXECUTE sql; RETURN (extract(epoch FROM clock_timestamp() - t) * 1000)::int; END $$});

# ---- 150,000 keys under statement_timeout 300ms ----
my $KEYS = "ARRAY(SELECT 'mw:' || i FROM generate_series(1, 150000) i)";
for my $case ([ 'mc_delete_multi', "mc_delete_multi($KEYS)" ],
	[ 'mc_set_multi (jsonb)', "mc_set_multi((SELECT jsonb_object_agg('mw:' || i, i) FROM generate_series(1, 150000) i))" ],
	[ 'mc_set_multi (arrays)', "mc_set_multi($KEYS, ARRAY(SELECT 'v' || i FROM generate_series(1, 150000) i))" ])
{
	my ($name, $expr) = @$case;
	my $t0  = now_ms();
	my $out = qv("SET pylibmc_pg.servers = '$TCP'", "SET statement_timeout = '300ms'", "SELECT $expr IS NOT NULL");
	my $ms  = now_ms() - $t0;
	between($ms, 0, 2000, "$name of 150,000 keys with statement_timeout 300ms returns within 2 s (${ms} ms)");
	like($out, qr/ERROR:  57014: /, '... cancelled (57014)');
}

# ---- one timeout per failed server, not per key ----
my $mc = $fleet->memcached('exch-multi-stopped', args => [ '-m', 16 ]);
my $STOPPED = $mc->addr;
$mc->pause_stopped;
my $POLL = 500;
my $TEN  = "ARRAY(SELECT ''mw:'' || i FROM generate_series(1, 10) i)";
for my $mode ('ignore', 'warning')
{
	for my $case ([ 'mc_delete_multi', "mc_delete_multi($TEN)" ],
		[ 'mc_set_multi (arrays)', "mc_set_multi($TEN, ARRAY(SELECT ''v'' || i FROM generate_series(1, 10) i))" ],
		[ 'mc_set_multi (jsonb)', "mc_set_multi((SELECT jsonb_object_agg(''mw:'' || i, i) FROM generate_series(1, 10) i))" ])
	{
		my ($name, $expr) = @$case;
		my $out = qdb("SET pylibmc_pg.servers = '$STOPPED'",
			"SET pylibmc_pg.behaviors = 'connect_timeout=$POLL, _poll_timeout=$POLL'",
			"SET pylibmc_pg.on_error = '$mode'", 'SET client_min_messages = error',
			"SELECT exch_ms('SELECT $expr')");
		$out = 'x' if $out eq '';
		between($out, 0, $POLL * 5 / 2,
			"on_error=$mode: $name of 10 keys on a stopped server costs about one timeout ($out ms, _poll_timeout $POLL)");
	}
}
$mc->resume;

# ---- get_multi over a live and a down server ----
my $LIVE = $TCP;
my $DOWN = '127.0.0.1:' . $fleet->free_port;
my $GM   = "ARRAY(SELECT 'gm:' || i FROM generate_series(1, 10) i)";
my $stored = qdb("SET pylibmc_pg.servers = '$LIVE, $DOWN'", "SET pylibmc_pg.on_error = 'ignore'",
	"SELECT string_agg(k, ',' ORDER BY k) FROM (SELECT 'gm:' || i AS k FROM generate_series(1, 10) i) s WHERE mc_set(k, 'v')");
my $n = grep { length } split /,/, $stored;
between($n, 1, 9, "ten keys over live and down: $n of them map to the live server and are stored");

for my $proto ('off', 'on')
{
	my $run = sub {
		return qv("SET pylibmc_pg.servers = '$LIVE, $DOWN'", "SET pylibmc_pg.binary_protocol = $proto",
			"SET pylibmc_pg.on_error = '$_[0]'",
			"SELECT string_agg(key, ',' ORDER BY key) FROM mc_get_multi($GM)");
	};
	my $rows_of = sub {
		return join("\n", grep { !/^(WARNING|DETAIL|HINT|LOCATION|ERROR):/ } split /\n/, $_[0]);
	};
	my $out = $run->('error');
	like($out, qr/ERROR:  08[0-9A-Z]{3}: /, "binary=$proto, on_error=error: get_multi with a server down is an ERROR of class 08");
	like($out, qr/ERROR:  .*\Q$DOWN\E/s, "binary=$proto, on_error=error: ... naming the down server $DOWN");
	unlike($out, qr/^gm:/m, "binary=$proto, on_error=error: ... and no partial rows");
	$out = $run->('warning');
	is($rows_of->($out), $stored, "binary=$proto, on_error=warning: the rows of the live server");
	like($out, qr/WARNING:  08[0-9A-Z]{3}: /, "binary=$proto, on_error=warning: ... and a WARNING of class 08");
	like($out, qr/WARNING:  .*\Q$DOWN\E/s, "binary=$proto, on_error=warning: ... naming the down server");
	$out = $run->('ignore');
	is($rows_of->($out), $stored, "binary=$proto, on_error=ignore: the rows of the live server");
	unlike($out, qr/WARNING/, "binary=$proto, on_error=ignore: ... and no WARNING");
}
