# test/t/120_fault_on_error.pl: pylibmc_pg.on_error against an unreachable
# server.
#
#   error (default)  every operation raises an 08xxx ERROR naming host:port
#   warning          reads give NULL / no rows, writes false, set_multi all
#                    its keys, each with a WARNING naming the server; the
#                    transaction goes on
#   ignore           the same results, no WARNING
# and bad input (a key with a space, an empty or too long key, a negative
# ttl, a cas token 0, a negative delta) is an ERROR in every mode, before
# any server is asked.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

# operation and the value it gives with warning/ignore (psql -At form)
my @OPS = (
	[ "mc_get('oe:k') IS NULL",                                          't' ],
	[ "mc_get('oe:k', NULL::integer) IS NULL",                           't' ],
	[ "mc_set('oe:k', 'v')",                                             'f' ],
	[ "mc_add('oe:k', 42)",                                              'f' ],
	[ "mc_replace('oe:k', true)",                                        'f' ],
	[ "mc_append('oe:k', 'x')",                                          'f' ],
	[ "mc_cas('oe:k', 'v', 12345)",                                      'f' ],
	[ "mc_delete('oe:k')",                                               'f' ],
	[ "mc_touch('oe:k', 10)",                                            'f' ],
	[ "mc_incr('oe:n') IS NULL",                                         't' ],
	[ "mc_decr('oe:n', 1, 5) IS NULL",                                   't' ],
	[ "(SELECT count(*) FROM mc_get_multi(ARRAY['oe:a', 'oe:b']))",      '0' ],
	[ "(SELECT row(value, cas)::text FROM mc_gets('oe:k'))",             '(,)' ],
	[ q{mc_set_multi('{"oe:a": 1, "oe:b": "x"}'::jsonb)::text},          '{oe:a,oe:b}' ],
	[ "mc_delete_multi(ARRAY['oe:a', 'oe:b'])",                          'f' ],
	[ "(SELECT row(value, flags)::text FROM mc_get_raw('oe:k'))",        '(,)' ],
	[ q{mc_set_raw('oe:k', '\x00'::bytea, 0)},                           'f' ]);
my @BAD = (
	[ "mc_get('oe:a b')",                                                '22023' ],
	[ "mc_set('oe:a b', 'v')",                                           '22023' ],
	[ "mc_get('')",                                                      '22023' ],
	[ "mc_get(repeat('x', 251))",                                        '22001' ],
	[ "mc_set('oe:k', 'v', -1)",                                         '22023' ],
	[ "mc_cas('oe:k', 'v', 0)",                                          '22023' ],
	[ "mc_incr('oe:n', -1)",                                             '22023' ],
	[ "(SELECT count(*) FROM mc_get_multi(ARRAY['oe:a', 'oe:b c']))",    '22023' ]);

plan tests => 2 * @OPS + 2 * @OPS + @OPS + 3 * @BAD + 5;

my $fleet = PmcFleet->new;
my $TCP   = $fleet->memcached('tcp')->addr;
# a port nothing listens on (reserved for this file by the port lock)
my $DOWN = '127.0.0.1:' . $fleet->free_port;
my $node = pmc_node('on_error', "pylibmc_pg.servers = '$TCP'");
my $DB   = 'pmc_fault_on_error';
pmc_createdb($node, $DB);

# run MODE EXPR: SELECT EXPR against the down server in that mode; verbose
# errors (SQLSTATE shown).
sub run
{
	my ($mode, $expr) = @_;
	return sql($node, $DB,
		[ "SET pylibmc_pg.servers = '$DOWN'", "SET pylibmc_pg.on_error = '$mode'", "SELECT $expr" ],
		verbose => 1);
}

for my $mode (qw(error warning ignore))
{
	for my $op (@OPS)
	{
		my ($expr, $want) = @$op;
		my $out      = run($mode, $expr);
		my $result   = join "\n", grep { !/^(WARNING|ERROR|DETAIL|HINT|LOCATION):/ } split /\n/, $out;
		my $warnings = () = $out =~ /^WARNING:/mg;
		if ($mode eq 'error')
		{
			like($out, qr/^ERROR:  08[0-9A-Z]{3}: could not .* on memcached server \Q$DOWN\E/s,
				"error: $expr raises a connection ERROR naming $DOWN");
			is($result, '', 'error: ... and returns nothing');
		}
		elsif ($mode eq 'warning')
		{
			is($result, $want, "warning: $expr gives $want");
			ok($warnings >= 1 && $out =~ /^WARNING:  08[0-9A-Z]{3}: could not .* on memcached server \Q$DOWN\E/m,
				'warning: ... with a WARNING naming the server')
			  or diag($out);
		}
		else
		{
			is("$result|$warnings", "$want|0", "ignore: $expr gives $want without a WARNING");
		}
	}
}

for my $mode (qw(error warning ignore))
{
	for my $b (@BAD)
	{
		my ($expr, $code) = @$b;
		like(run($mode, $expr), qr/^ERROR:  $code: /, "$mode: bad input $expr is ERROR $code");
	}
}

# warning keeps the transaction going; error aborts it
for my $mode (qw(warning error))
{
	my $out = sql($node, $DB, [], stdin => <<SQL);
SET pylibmc_pg.servers = '$DOWN';
SET pylibmc_pg.on_error = '$mode';
CREATE TEMP TABLE oe_t (v text);
BEGIN;
INSERT INTO oe_t SELECT coalesce(mc_get('oe:k'), 'miss');
COMMIT;
SELECT 'rows', count(*), min(v) FROM oe_t;
SQL
	if ($mode eq 'warning')
	{
		like($out, qr/rows\|1\|miss/, 'warning: a transaction reading from a down server commits, the read a miss');
	}
	else
	{
		like($out, qr/rows\|0\|/, 'error: ... is rolled back');
	}
}

# a server that accepts and never answers, in warning mode: a miss, in time
my $stopped = $fleet->memcached('fault-on-error-stopped', args => [ '-m', 16 ]);
my $STOPPED = $stopped->addr;
$stopped->pause;
my $t0  = now_ms();
my $out = sql($node, $DB,
	[ "SET pylibmc_pg.servers = '$STOPPED'", "SET pylibmc_pg.on_error = 'warning'",
		"SELECT coalesce(mc_get('oe:k'), 'miss')" ]);
my $t1 = now_ms();
$stopped->resume;
is(($out =~ /^(miss)$/m)[0] // '', 'miss', 'warning: a get from a stopped server is a miss');
like($out, qr/WARNING:  could not get key "oe:k" on memcached server \Q$STOPPED\E/,
	'... with a WARNING naming the server');
between($t1 - $t0, 0, 1999, '... within 2 s (' . ($t1 - $t0) . ' ms)');
