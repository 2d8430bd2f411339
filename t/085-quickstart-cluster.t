#!/usr/bin/perl
# STORE=cluster make run (scripts/run.sh): the demo on a local Redis Cluster
# of three masters and three replicas.  The demo data is there, a task
# created through the gateway is analysed, a master killed halfway costs
# only 500 DCS.5000 answers until its replica takes over, then lists and
# tasks work again; scripts/stop.sh stops every node.

use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Hotkey::Test qw(free_port build_file module_path private_copy);
use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(sleep time);

my $top = abs_path("$FindBin::Bin/..");
my $module = module_path();
my $ctl = build_file('hotkeyctl');
my $analyzer = build_file('hotkey-analyzer');

plan skip_all => 'module, hotkeyctl or analyzer not built'
    unless -f $module && -x $ctl && -x $analyzer;

($module, $ctl, $analyzer) = private_copy($module, $ctl, $analyzer);

sub port_free {
    my ($p) = @_;
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $p,
                                  Proto => 'tcp', ReuseAddr => 1);
    return $s ? 1 : 0;
}

# six ports in a row, and their cluster bus ports, all free
my $base;
for (1 .. 200) {
    my $p = 20000 + int(rand(9000));
    next if grep { !port_free($_) && 1 } map { ($_, $_ + 10000) } $p .. $p + 5;
    $base = $p;
    last;
}
plan skip_all => 'no six free ports in a row' unless $base;

my $run_dir = tempdir('hotkey-qcluster-XXXXXX', TMPDIR => 1,
                      CLEANUP => !$ENV{HOTKEY_KEEP});
diag "run dir $run_dir" if $ENV{HOTKEY_KEEP};
my %env = (RUN_DIR => $run_dir, PORT => free_port(), STORE => 'cluster',
           CLUSTER_PORT => $base, CLUSTER_NODE_TIMEOUT => 1000,
           MODULE => $module, HOTKEYCTL => $ctl, DEMO_PORT => free_port(),
           ANALYZER_PORT => free_port(), ANALYZER => $analyzer);

sub script {
    my ($name) = @_;
    local @ENV{keys %env} = values %env;
    my $out = `'$top/scripts/$name' 2>&1`;
    return ($? >> 8, $out);
}

my $stopped = 0;
END { script('stop.sh') unless $stopped }

my ($rc, $out) = script('run.sh');
is($rc, 0, 'STORE=cluster run.sh') or diag $out;

my %e;
if (open my $fh, '<', "$run_dir/demo.env") {
    for (<$fh>) {
        my ($k, $v) = /^(\w+)=(.*)$/ or next;
        $v =~ s/^'(.*)'$/$1/;
        $e{$k} = $v;
    }
}
is($e{STORE}, 'cluster', 'demo.env: STORE=cluster');
my @nodes = split ' ', $e{STORE_NODES} // '';
is(scalar @nodes, 6, 'demo.env: six STORE_NODES');

my $http = HTTP::Tiny->new(timeout => 5);
my $base_url = "$e{BASE_URL}/v2/$e{PROJECT_ID}/instances/$e{INSTANCE_ID}";

sub call {
    my ($method, $path) = @_;
    my $r = $http->request($method, "$base_url$path",
                           { headers => { 'X-Auth-Token' => $e{HOTKEY_TOKEN} } });
    return ($r, eval { decode_json($r->{content}) });
}

my ($r, $j) = call('GET', '/hotkey-tasks?limit=1');
is($r->{status}, 200, 'the demo list');
is($j && $j->{count}, 26, '... with its 26 tasks');

sub analysed {
    my ($why) = @_;
    my ($r, $j) = call('POST', '/hotkey-task');
    is($r->{status}, 200, "create $why") or diag $r->{content};
    my $id = $j && $j->{id} or return;
    my $end = time + 40;
    my $st = '';
    while (time < $end) {
        my (undef, $d) = call('GET', "/hotkey-task/$id");
        $st = $d && $d->{status} // '';
        last if $st eq 'success' || $st eq 'failed';
        sleep 0.2;
    }
    is($st, 'success', "... analysed ($why)");
}

analysed('on the cluster');

my $slot = `redis-cli -p $base CLUSTER KEYSLOT '{$e{INSTANCE_ID}}'`;
chomp $slot;
my ($master) = map { (split ' ')[1] =~ s/@.*//r }
    grep {
        my @f = split ' ';
        $f[2] =~ /master/ && !($f[2] =~ /fail/)
            && grep { /^(\d+)(?:-(\d+))?$/ && $slot >= $1
                      && $slot <= ($2 // $1) } @f[8 .. $#f]
    } split /\n/, `redis-cli -p $base CLUSTER NODES`;
ok($master, "the master of slot $slot: " . ($master // '?'));
my ($mport) = ($master // '') =~ /:(\d+)$/;
my ($pid) = `redis-cli -p $mport INFO server` =~ /process_id:(\d+)/;
my $t0 = time;
ok($pid && kill('KILL', $pid), 'the master killed');

my (%seen, $back, $bad);
while (time - $t0 < 30) {
    ($r, $j) = call('GET', '/hotkey-tasks?limit=1');
    $seen{$r->{status}}++;
    $bad++ unless $r->{status} == 200
                  || ($r->{status} == 500 && $j && $j->{error_code} eq 'DCS.5000');
    if ($r->{status} == 200 && $seen{500}) {
        $back = time - $t0;
        last;
    }
    sleep 0.05;
}
ok(!$bad, 'meanwhile only 200 or 500 DCS.5000 JSON');
ok($back, 'lists answer again after the failover')
    and diag sprintf 'first success %.2f s after the kill (%d failed)',
                     $back, $seen{500} // 0;

analysed('after the failover');

($rc, $out) = script('stop.sh');
is($rc, 0, 'stop.sh') or diag $out;
$stopped = 1;
my @left = grep { !port_free($_) } $base .. $base + 5;
is("@left", '', 'no node left listening');

done_testing;
