# test/t/110_security_password.pl: the SASL password stays secret where a
# regression test cannot look: in the server log, and in fresh sessions of
# a cluster that has it in postgresql.conf.
#
# Part 1: a wrong password makes libmemcached fail authentication (ERROR
# 28000, logged with its STATEMENT); the log must not contain the password
# afterwards.
#
# Part 2 uses a node with the password in postgresql.conf and
# shared_preload_libraries = 'pylibmc_pg', the configuration
# doc/security.md recommends: an ordinary role's fresh session, before any
# mc_* call, cannot read the password in any way, and cannot set it.
#
# Both nodes log no statements (log_statement = none, PostgreSQL's
# default; PostgreSQL::Test::Cluster sets all): a logged SET of the
# password would be PostgreSQL's own disclosure, not the extension's.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 11;

my $fleet = PmcFleet->new;
my $SASL  = $fleet->memcached('sasl', sasl => 1)->addr;
my $USER  = $PmcFleet::SASL_USER;
# a password that appears nowhere else
my $PW = "pmc-log-pw-$$-" . int(rand(1_000_000));

# lacks FILE STRING DESCRIPTION: ok when FILE does not contain STRING
sub lacks
{
	my ($file, $string, $desc) = @_;
	my @hits = grep { index($_, $string) >= 0 } split /\n/, slurp_file($file);
	ok(!@hits, $desc) or diag(join("\n", @hits[ 0 .. ($#hits < 4 ? $#hits : 4) ]));
	return;
}

# ---------- part 1: the server log ----------

my $node = pmc_node('password', "log_statement = none");
my $DB   = 'pmc_sec_tap';
pmc_createdb($node, $DB);
my $log_start = -s $node->logfile;
my $out = sql($node, $DB, [], quiet => 0, stdin => <<EOF);
\\set VERBOSITY verbose
SET pylibmc_pg.servers = '$SASL';
SET pylibmc_pg.binary_protocol = on;
SET pylibmc_pg.username = '$USER';
SET pylibmc_pg.password = '$PW';
SELECT mc_get('sec_tap:k');
SET pylibmc_pg.password = '$PW-2';
SELECT mc_set('sec_tap:k', 'v');
SET pylibmc_pg.on_error = warning;
SET pylibmc_pg.password = '$PW-3';
SELECT mc_incr('sec_tap:n');
EOF
$node->safe_psql('postgres', "DROP DATABASE $DB");
my $n = () = $out =~ /^ERROR:  28000: /mg;
is($n, 3, 'three authentication failures (28000) reported to the client') or diag($out);
ok(index($out, $PW) < 0, 'the client saw no password');
my $log = substr(slurp_file($node->logfile), $log_start);
$n = () = $log =~ /STATEMENT:  SELECT mc_[a-z]*\('sec_tap:/g;
is($n, 3, 'the three failures are in the server log (' . $node->logfile . '), with their statements');
lacks($node->logfile, $PW, 'the server log does not contain the password');

# ---------- part 2: a node with the password in postgresql.conf ----------

my $CONF_PW = $PmcFleet::SASL_PASSWORD;
my $conf    = pmc_node('password_conf', "log_statement = none
shared_preload_libraries = 'pylibmc_pg'
pylibmc_pg.servers = '$SASL'
pylibmc_pg.binary_protocol = on
pylibmc_pg.username = '$USER'
pylibmc_pg.password = '$CONF_PW'");

sub su_sql  { return sql($conf, 'postgres', [ $_[0] ], quiet => 0); }
sub app_sql { return sql($conf, 'postgres', [ $_[0] ], quiet => 0, user => 'pmc_tap_app'); }

su_sql('CREATE ROLE pmc_tap_app LOGIN; CREATE EXTENSION pylibmc_pg');
is(su_sql('SHOW pylibmc_pg.password'), $CONF_PW, 'a superuser reads the password from postgresql.conf');

# each app_sql is a fresh session that has called no mc_* function
my $leaks = 0;
for my $q ('SHOW pylibmc_pg.password',
	"SELECT current_setting('pylibmc_pg.password')",
	"SELECT current_setting('pylibmc_pg.password', true)",
	"SELECT string_agg(name || '=' || setting, ',') FROM pg_settings",
	'SHOW ALL',
	"SELECT string_agg(name || '=' || setting, ',') FROM pg_file_settings",
	"SELECT pg_read_file('postgresql.conf')")
{
	next if index(app_sql($q), $CONF_PW) < 0;
	$leaks++;
	diag("$q -> the password");
}
is($leaks, 0,
	"an ordinary role's fresh session cannot read the password (SHOW, current_setting, pg_settings, SHOW ALL, pg_file_settings, pg_read_file)"
);

# 15 words it "have privileges of", 13 "a member of", 16+ "permission denied to examine"
$n = () = app_sql('SHOW pylibmc_pg.password') =~
  /must be superuser or (have privileges of|a member of) pg_read_all_settings|permission denied to examine "pylibmc_pg.password"/g;
is($n, 1, 'SHOW pylibmc_pg.password is a permission error, not an empty value');

$n = () = app_sql("SET pylibmc_pg.password = 'x'") =~ /permission denied to set parameter "pylibmc_pg.password"/g;
is($n, 1, 'with the library preloaded, SET is refused at once (no placeholder)');

# the configured credentials work for the ordinary role, which never sees them
is(app_sql("SELECT mc_set('sec_tap:conf', 'ok') AND mc_get('sec_tap:conf') = 'ok' AND mc_delete('sec_tap:conf')"),
	't', 'the ordinary role uses the SASL server with the configured credentials');

# nor is the password in this node's log after that session and the failures above
app_sql("SELECT mc_get(repeat('x', 300))");
lacks($conf->logfile, $CONF_PW, "the second node's log does not contain the password");

su_sql('DROP EXTENSION pylibmc_pg; DROP ROLE pmc_tap_app');
is(su_sql('SELECT 1'), '1', 'the second node still answers');
