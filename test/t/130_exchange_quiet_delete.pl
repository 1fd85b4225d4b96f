# test/t/130_exchange_quiet_delete.pl: with the binary protocol, a quiet
# delete's error packet (a missing key) is skipped, not read as the next
# request's reply (patches/libmemcached/0007).
#
# Builds test/exchange/quiet_delete.c against the patched libmemcached the
# extension links (build/libmemcached, so after `make`) and, for contrast,
# reports what the system's libmemcached.so.11 does (not a check: it is
# what 0007 fixes), then runs it against a memcached of this file's own.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PmcFleet;
use PmcTest;

plan tests => 5;

my $fleet = PmcFleet->new;
my $mc    = $fleet->memcached('tcp');
my ($host, $port) = ('127.0.0.1', $mc->port);
my $LMC  = 'build/libmemcached';
my $WORK = PostgreSQL::Test::Utils::tempdir('quiet');

my $log = '';
my $built = IPC::Run::run(
	[ 'g++', '-o', "$WORK/quiet", '-x', 'c', 'test/exchange/quiet_delete.c', '-x', 'none', "-I$LMC/include",
		"$LMC/lib/libmemcached.a", "$LMC/lib/libhashkit.a", "$LMC/lib/libp9y.a", '-lsasl2', '-lcrypto' ],
	'>&', \$log);
ok($built, 'quiet_delete.c builds against the patched libmemcached') or diag($log);
my $out = '';
IPC::Run::run([ "$WORK/quiet", $host, $port ], '>&', \$out) if $built;
like($out, qr/quiet delete of a missing key: SUCCESS/, 'the quiet delete of a missing key is sent');
like($out, qr/set other: SUCCESS/, "the acknowledged set after it reads its own reply, not the delete's error");
like($out, qr/delete present: SUCCESS/, '... and so does the delete after it');
like($out, qr/get present: NOT FOUND, no value/, '... and the get of the deleted key is a miss');
if (IPC::Run::run([ 'gcc', '-o', "$WORK/quiet-system", 'test/exchange/quiet_delete.c', '-lmemcached' ],
		'>&', \my $ignored))
{
	my $sys = '';
	IPC::Run::run([ "$WORK/quiet-system", $host, $port ], '>&', \$sys);
	diag("the system's libmemcached 1.1.4: $_") for split /\n/, $sys;
}
