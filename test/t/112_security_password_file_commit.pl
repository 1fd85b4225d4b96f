# test/t/112_security_password_file_commit.pl: a changed password file
# reaches the commit-time clients as it reaches the backend's own client.
#
# doc/configuration.md ("pylibmc_pg.password_file"): the file is read when
# the backend builds its client; a running session sees a changed file when
# one of its pylibmc_pg.* settings changes.  mc_delete_on_commit keeps
# clients of its own for a configuration other than the one in force at
# COMMIT (here: the namespace SET LOCAL when the key was queued, changed
# before COMMIT).  Were the password file left out of their settings
# signature, they would go on authenticating with the old password after
# the file changed: a delete that the backend's own client could no longer
# send would still be sent.  On a node with password_file in
# postgresql.conf, in one session: the file's password deletes; then the
# file holds a wrong password and a setting changes: the backend's client
# and the commit-time client both fail to authenticate, and the key stays.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 4;

my $fleet  = PmcFleet->new;
my $SASL   = $fleet->memcached('sasl', sasl => 1)->addr;
my $PWFILE = $fleet->dir . '/memcached.pw';

sub write_pwfile
{
	open my $fh, '>', $PWFILE or die "$PWFILE: $!";
	print $fh "$_[0]\n";
	close $fh;
	chmod 0600, $PWFILE;
	return;
}
write_pwfile($PmcFleet::SASL_PASSWORD);

my $node = pmc_node('password_file_commit', "pylibmc_pg.servers = '$SASL'
pylibmc_pg.binary_protocol = on
pylibmc_pg.username = '$PmcFleet::SASL_USER'
pylibmc_pg.password_file = '$PWFILE'");
$node->safe_psql('postgres', 'CREATE EXTENSION pylibmc_pg');

# one session: the commit-time clients live as long as the backend
my $out = sql($node, 'postgres', [], quiet => 0, stdin => <<SQL);
SELECT 'stored', mc_set('pfc:a', 'v') AND mc_set('pfc:b', 'v');
BEGIN;
SET LOCAL pylibmc_pg.namespace = 'pfc:';
SELECT mc_delete_on_commit('a');
SET LOCAL pylibmc_pg.namespace = '';
COMMIT;
SELECT 'a deleted', mc_get('pfc:a') IS NULL;
\\! printf 'not-the-password\\n' > '$PWFILE'
BEGIN;
SET LOCAL pylibmc_pg.namespace = 'pfc:';
SELECT mc_delete_on_commit('b');
SET LOCAL pylibmc_pg.namespace = '';
COMMIT;
SELECT 'main client', mc_get('pfc:b');
SQL
diag($out);
like($out, qr/a deleted\|t/, "the commit-time client authenticates with the password file's password");
like($out, qr/WARNING:  could not delete 1 of 1 keys queued by mc_delete_on_commit/,
	'after the file changed and a setting changed, the commit-time client sends the new password: the delete fails');
like($out, qr/ERROR:  could not get key "pfc:b"/, "as the backend's own client does (doc/configuration.md)");

write_pwfile($PmcFleet::SASL_PASSWORD);
is(sql($node, 'postgres', ["SELECT mc_get('pfc:b')"]), 'v', 'the key was not deleted with the old password');
