# test/t/040_invalidate_hold.pl: pylibmc_pg.invalidation_hold closes the
# cache-aside race that a commit-time delete leaves open.
#
# The workload (pgbench): 50 rows; 8 readers that, on a miss, read the row,
# wait 2 ms as an application would, and fill with mc_add; 2 writers
# updating random rows through mc_invalidate.  Afterwards the cached values
# that differ from their row are counted.
#   - without a hold the count is above 0 (a reader that read the old row
#     before the commit fills the cache after the delete);
#   - with a hold of 3 s (longer than any reader's latency) it is 0, run
#     after run;
#   - pylibmc sees the tombstone: get() None, get_multi the key with None,
#     add() refused, set() overwrites.
# PMC_HOLD_RUN_S sets the seconds of each run (default 8).
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

my $RUN_S = $ENV{PMC_HOLD_RUN_S} // 8;
plan tests => 8;

my $fleet = PmcFleet->new;
my $MC    = $fleet->memcached('inval_hold', args => [ '-m', 64 ])->addr;
# every statement of pgbench's is not worth a log line
my $node = pmc_node('hold', "pylibmc_pg.servers = '$MC'\nlog_statement = none");
my $DB   = 'pmc_inval_hold';
pmc_createdb($node, $DB);
my $WORK = PostgreSQL::Test::Utils::tempdir('hold');

sub qdb { return sql($node, $DB, [@_]); }

qdb(q{CREATE TABLE item (id int PRIMARY KEY, val int NOT NULL);
   INSERT INTO item SELECT g, 0 FROM generate_series(1, 50) g;
   CREATE TRIGGER item_cache AFTER INSERT OR UPDATE OR DELETE ON item
     FOR EACH ROW EXECUTE FUNCTION mc_invalidate('hold:item:{id}');
   CREATE FUNCTION read_item(k int) RETURNS int LANGUAGE plpgsql AS $$
   DECLARE v int;
   BEGIN
     v := mc_get('hold:item:' || k, NULL::bigint);
     IF v IS NULL THEN
       SELECT val INTO v FROM item WHERE id = k;
       PERFORM pg_sleep(0.002);
       PERFORM mc_add('hold:item:' || k, v::bigint, 300);
     END IF;
     RETURN v;
   END $$;
   CREATE FUNCTION stale_entries() RETURNS bigint LANGUAGE sql AS $$
     SELECT count(*) FROM item i
     JOIN mc_get_multi(array(SELECT 'hold:item:' || id FROM item), NULL::bigint) c
       ON c.key = 'hold:item:' || i.id
     WHERE c.value IS DISTINCT FROM i.val $$;});

append_to_file("$WORK/reader.sql", "\\set k random(1, 50)\nSELECT read_item(:k);\n");
append_to_file("$WORK/writer.sql", "\\set k random(1, 50)\nUPDATE item SET val = val + 1 WHERE id = :k;\n");

sub pgbench
{
	my ($clients, $jobs, $script, $pgoptions, $out) = @_;
	local $ENV{PGOPTIONS} = $pgoptions;
	return IPC::Run::start(
		[ 'pgbench', '-n', '-c', $clients, '-j', $jobs, '-T', $RUN_S, '-f', $script,
			'-h', $node->host, '-p', $node->port, $DB ],
		'>&', $out);
}

# workload HOLD: one run; the stale entries left afterwards
sub workload
{
	my ($hold) = @_;
	my $servers = "-c pylibmc_pg.servers=$MC";
	sql($node, $DB, ['SELECT mc_flush_all()'], env => { PGOPTIONS => $servers });
	my ($rlog, $wlog) = ('', '');
	my $readers = pgbench(8, 2, "$WORK/reader.sql", $servers, \$rlog);
	my $writers = pgbench(2, 1, "$WORK/writer.sql", "$servers -c pylibmc_pg.invalidation_hold=$hold", \$wlog);
	my $rok = $readers->finish;
	my $wok = $writers->finish;
	if (!$rok || !$wok)
	{
		diag($rok ? $wlog : $rlog);
		return '';
	}
	my ($rtps) = $rlog =~ /(tps = [0-9.]*)/;
	my ($wtps) = $wlog =~ /(tps = [0-9.]*)/;
	diag("hold $hold s: readers " . ($rtps // '') . ', writers ' . ($wtps // ''));
	return sql($node, $DB, ['SELECT stale_entries()'], env => { PGOPTIONS => $servers });
}

my $stale = workload(0);
diag("without a hold: $stale stale entries after ${RUN_S} s");
between($stale, 1, 50, 'without a hold, late fills leave stale entries (the race the hold closes)');

for my $run (1 .. 3)
{
	$stale = workload(3);
	diag("hold 3 s, run $run: $stale stale entries");
	is($stale, '0', "with a 3 s hold, run $run: no stale entry");
}

# what pylibmc sees
qdb("SET pylibmc_pg.servers = '$MC'", 'SET pylibmc_pg.invalidation_hold = 30',
	"SELECT mc_set('hold:py', 'cached')", "SELECT mc_delete_on_commit('hold:py')");
my $py = <<'PY';
import sys
import pylibmc
c = pylibmc.Client([sys.argv[1]])
print(repr(c.get("hold:py")))
print(repr(c.get_multi(["hold:py"])))
print(repr(c.add("hold:py", "late")))
print(repr(c.set("hold:py", "fresh")), repr(c.get("hold:py")))
PY
my $out = '';
IPC::Run::run([ 'python3', '-', $MC ], '<', \$py, '>&', \$out);
my @py = split /\n/, $out;
is($py[0] // '', 'None', 'pylibmc get() of a held key returns None');
is($py[1] // '', "{'hold:py': None}", 'pylibmc get_multi() returns the held key with None');
is($py[2] // '', 'False', 'pylibmc add() of a held key fails');
is(qdb("SET pylibmc_pg.servers = '$MC'", "SELECT mc_get('hold:py')") . ' ' . ($py[3] // ''),
	"fresh True 'fresh'", 'pylibmc set() overwrites the tombstone, and mc_get reads the new value');
