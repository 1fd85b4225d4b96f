# test/t/074_wal_sasl.pl: the replay worker and SASL credentials.  The log
# records the servers and behaviors a key was queued under, never a secret;
# the worker authenticates with the server's own pylibmc_pg.username and
# password file (postgresql.conf), and sends them to no server a role chose.
#
# One node with wal_level = logical, the library preloaded, a replay worker
# for 'postgres', pylibmc_pg.username and pylibmc_pg.password_file in
# postgresql.conf; a plain memcached (the configured servers) and a SASL one:
#   - a superuser's session chooses the SASL server: committed while it is
#     stopped, the key is deleted by the worker once it is back (with the
#     server's credentials); the WAL holds the key, not the password;
#   - a role whose servers are stored with ALTER ROLE ... SET (chosen by a
#     role, doc/security.md): the server's credentials are not sent there,
#     so its session cannot queue for the SASL server at all (42501), with
#     its own password set as well;
#   - without server-level credentials (ALTER SYSTEM, reload), the role
#     authenticates with its own, set in its session: committed while the
#     SASL server is stopped, the worker cannot authenticate (it has no
#     secret of the role's): it gives the key up at once (no retry could
#     deliver it), even with no max age, counted in keys_given_up and logged,
#     last_error an authentication error without the secret; the entry stays
#     stale, and a later transaction whose send failed is not held back.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PmcFleet;
use PmcTest;

my $fleet  = PmcFleet->new;
my $plain  = $fleet->memcached('plain');
my $sasl   = $fleet->memcached('sasl', sasl => 1);
my $MC     = $plain->addr;
my $SASL   = $sasl->addr;
my $USER   = $PmcFleet::SASL_USER;
my $PW     = $PmcFleet::SASL_PASSWORD;
my $PWFILE = $fleet->dir . '/memcached.pw';
my $DB     = 'postgres';
{
	open my $fh, '>', $PWFILE or die "$PWFILE: $!";
	print $fh "$PW\n";
	close $fh;
	chmod 0600, $PWFILE;
}
my $node = pmc_wal_node('sasl', $MC, db => $DB,
	conf => [ 'pylibmc_pg.binary_protocol = on', "pylibmc_pg.username = '$USER'", "pylibmc_pg.password_file = '$PWFILE'" ]);

sub qdb { return sql($node, $DB, [@_]); }
# a superuser session on the SASL server (a superuser's SET: trusted)
sub qsasl { return sql($node, $DB, [ "SET pylibmc_pg.servers = '$SASL'", @_ ]); }

# poll SECONDS, SQL: true once SQL returns t
sub poll { return pmc_poll($node, $DB, @_); }

ok(poll(30, 'SELECT pid IS NOT NULL FROM mc_invalidation_log'), 'the replay worker runs')
  or BAIL_OUT('no replay worker: the rest would only time out');

# ---- servers chosen in a superuser's session, the server's credentials ----
is(qsasl("SELECT mc_set('sasl:su', 'old')"), 't', 'the SASL server: the server\'s credentials authenticate');
ok($sasl->pause_stopped, 'the SASL server is stopped');
like(qsasl("SELECT mc_delete_on_commit('sasl:su')"),
	qr/WARNING:  could not delete 1 of 1 keys/, 'the commit-time send fails');
usleep(300_000);
$sasl->resume;
ok(poll(10, "SELECT keys_resent = 1 FROM mc_invalidation_log"),
	'the worker sends the key again')
  or diag(qdb('SELECT keys_resent, last_error FROM mc_invalidation_log'));
is(qsasl("SELECT coalesce(mc_get('sasl:su'), '<miss>')"), '<miss>',
	'with the server\'s credentials: the key is deleted on the SASL server');

# the WAL: the key, not the secret
my $wal = '';
for my $f (glob($node->data_dir . '/pg_wal/0*'))
{
	$wal .= slurp_file($f);
}
ok(index($wal, 'sasl:su') >= 0, 'the WAL holds the key (its message was read)');
ok(index($wal, $SASL) >= 0, 'and the servers it was queued for');
is(index($wal, $PW), -1, 'but not the password');

# ---- servers stored with ALTER ROLE: chosen by a role ----
qdb('CREATE ROLE tenant LOGIN',
	"ALTER ROLE tenant SET pylibmc_pg.servers = '$SASL'",
	'GRANT SET ON PARAMETER pylibmc_pg.username, pylibmc_pg.password TO tenant');
sub qtenant { return sql($node, $DB, [@_], user => 'tenant', verbose => 1); }
like(qtenant("SELECT mc_delete_on_commit('sasl:tenant')"),
	qr/ERROR:  42501: SASL credentials are not sent to servers chosen by a role that cannot read them/,
	'servers stored with ALTER ROLE: the server\'s credentials are not sent there, nothing is queued');
like(qtenant("SET pylibmc_pg.password = '$PW'", "SELECT mc_delete_on_commit('sasl:tenant')"),
	qr/ERROR:  42501: SASL credentials are not sent to servers chosen by a role/,
	'with its own password set too: refused the same, while the server has a password file');

# ---- without server-level credentials: the role's own ----
# The default max age (0: never give up): a transaction for servers a role
# chose that demand authentication is given up at once all the same, since
# no retry can deliver it, and holds nothing back.
qdb("ALTER SYSTEM SET pylibmc_pg.username = ''",
	"ALTER SYSTEM SET pylibmc_pg.password_file = ''",
	"ALTER SYSTEM SET pylibmc_pg.invalidation_log_max_age = 0",
	'SELECT pg_reload_conf()');
ok(poll(10, "SELECT setting = '' FROM pg_settings WHERE name = 'pylibmc_pg.username'"),
	'server-level credentials removed, max age 0 (reload)');
my @own = ("SET pylibmc_pg.username = '$USER'", "SET pylibmc_pg.password = '$PW'");
is(qtenant(@own, "SELECT mc_set('sasl:own', 'old')"), 't',
	'the role authenticates with its own credentials, set in its session');
my ($given0, $resent0) = split /\|/, qdb('SELECT keys_given_up, keys_resent FROM mc_invalidation_log');
my $logpos = -s $node->logfile;
ok($sasl->pause_stopped, 'the SASL server is stopped');
like(qtenant(@own, "SELECT mc_delete_on_commit('sasl:own')"),
	qr/WARNING:  .*could not delete 1 of 1 keys/, 'the role\'s commit-time send fails');
usleep(300_000);
$sasl->resume;
# a later transaction, for the configured (plain) server, whose send fails too
qdb("SELECT mc_set('plain:behind', 'old')");
ok($plain->pause_stopped, 'the plain memcached is stopped');
like(qdb("SELECT mc_delete_on_commit('plain:behind')"),
	qr/WARNING:  could not delete 1 of 1 keys/, 'a later commit-time send to the plain memcached fails');
$plain->resume;
ok(poll(20, "SELECT keys_given_up = $given0 + 1 FROM mc_invalidation_log"),
	'the worker cannot authenticate there: the key is given up at once, counted')
  or diag(qdb('SELECT keys_given_up, last_error FROM mc_invalidation_log'));
ok(poll(10, "SELECT last_error_time IS NOT NULL AND last_error ~* 'auth' FROM mc_invalidation_log"),
	'last_error names the authentication failure')
  or diag(qdb('SELECT last_error FROM mc_invalidation_log'));
my $err = qdb('SELECT last_error FROM mc_invalidation_log');
note("last_error: $err");
is(index($err, $PW), -1, 'last_error holds no secret');
ok(poll(10, "SELECT mc_get('plain:behind') IS NULL"), 'the later transaction is delivered: nothing is held back');
my $log = slurp_file($node->logfile, $logpos);
like($log, qr/WARNING:  pylibmc_pg: gave up 1 invalidations of transaction \d+, committed at .*\n.*DETAIL:  Their servers were chosen by a role and require authentication.*auth/i,
	'the server log names it and the authentication failure');
is(index($log, $PW), -1, 'the server log holds no secret');
is(qdb('SELECT keys_resent FROM mc_invalidation_log'), $resent0 + 1, 'keys_resent: the later key only');
is(qtenant(@own, "SELECT coalesce(mc_get('sasl:own'), '<miss>')"), 'old', 'the entry stays stale');

pmc_log_has_no_crash($node, 'sasl');
$node->stop;
$fleet->stop_all;
done_testing();
