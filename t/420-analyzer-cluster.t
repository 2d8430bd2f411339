#!/usr/bin/perl
# hotkey-analyzer on a Redis Cluster of 3 masters (redis-cli --cluster
# create on free ports, LFU counters frozen): the task's keys equal the
# true top 100 over the keys of every master, each with the shard it
# lives on; a master killed mid-scan fails the task with its cause in
# the log.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Hotkey::Test qw(uuid);
use Hotkey::Analyzer qw(:all);
use Time::HiRes qw(time sleep);

plan skip_all => 'hotkey-analyzer not built: make analyzer' unless analyzer_bin();
plan skip_all => 'redis-cli not installed'
    unless grep { -x "$_/redis-cli" } split /:/, $ENV{PATH};
srand(77);

my $store = Hotkey::Test->new;
$store->start_redis;

my @nodes = map {
    my $n = Hotkey::Test->new;
    $n->start_redis(args => [ lfu_args(), '--cluster-enabled', 'yes',
                              '--cluster-config-file', 'nodes.conf',
                              '--cluster-node-timeout', 2000,
                              '--cluster-port', Hotkey::Test::free_port() ]);
    $n;
} 1 .. 3;
my @addrs = map { '127.0.0.1:' . $_->redis_port } @nodes;
my $out = `redis-cli --cluster create @addrs --cluster-replicas 0 --cluster-yes 2>&1`;
is($? >> 8, 0, 'redis-cli --cluster create') or diag($out);
ok(wait_until(20, sub {
    !grep { $_->redis('CLUSTER', 'INFO') !~ /cluster_state:ok/ } @nodes }),
   'the cluster is up');

# slot owners, and keys sent where they live
my @owner;
for my $s (@{ $nodes[0]->redis('CLUSTER', 'SLOTS') }) {
    my ($from, $to, $master) = @$s;
    my ($n) = grep { $_->redis_port == $master->[1] } @nodes;
    $owner[$_] = $n for $from .. $to;
}

sub crc16 {
    my ($s) = @_;
    my $crc = 0;
    for my $c (unpack 'C*', $s) {
        $crc ^= $c << 8;
        for (1 .. 8) {
            $crc = $crc & 0x8000 ? (($crc << 1) ^ 0x1021) : ($crc << 1);
            $crc &= 0xffff;
        }
    }
    return $crc;
}

sub node_of {
    my ($k) = @_;
    my $h = $k;
    $h = $1 if $k =~ /\{([^}]+)\}/;
    return $owner[crc16($h) % 16384];
}

my %cmds;
for my $i (1 .. 6000) {
    my $k = "c:$i";
    my $m = $i % 5;
    push @{ $cmds{ node_of($k)->redis_port } }, [ node_of($k),
        $m == 1 ? [ 'RPUSH', $k, ('x') x (1 + $i % 4) ]
      : $m == 2 ? [ 'SADD', $k, 'a', 'b' ]
      : $m == 3 ? [ 'HSET', $k, 'f', 'v' ]
      : $m == 4 ? [ 'ZADD', $k, 1, 'm' ]
      : [ 'SET', $k, 'v' x (1 + $i % 9) ] ];
}
for my $list (values %cmds) {
    $list->[0][0]->redis_pipeline(map { $_->[1] } @$list);
}
for my $i (1 .. 300) {
    my $k = "c:" . (1 + int rand 6000);
    touch(node_of($k), 0, $k, 1 + int rand 40);
}
my %per = map { $_->redis_port => $_->redis('DBSIZE') } @nodes;
ok(!grep({ $_ < 1000 } values %per), 'keys on every master');

my $iid = uuid();
register($store, $iid, $addrs[1], mode => 'cluster');
my $a = start_analyzer($store, args => ['--no-pacing']);

my $snap = snapshot(map { [ $_, shard => '127.0.0.1:' . $_->redis_port ] } @nodes);
my $tid = create_task($store, $iid);
my $t = wait_task($store, $iid, $tid, qr/^(success|failed)$/, 60);
is($t->{status}, 'success', 'the task succeeds') or diag(analyzer_log($a));
my $keys = task_keys($store, $iid, $tid);
is_deeply($keys, truth($snap), 'the true top 100 over the 3 masters, with their shards');
my %shards = map { (split /\|/)[5] => 1 } @$keys;
is(scalar keys %shards, 3, '... hot keys on each of the 3 shards');
like(analyzer_log($a), qr/task \Q$tid\E .*result=success keys_scanned=6000 hot_keys=100 shards=3 /,
     'the log line: 6000 keys on 3 shards');

# a master killed mid-scan
stop_analyzer($a);
$a = start_analyzer($store, name => 'slow', args => [ '--cpu-share', '0.02', '--scan-count', 20 ]);
$tid = create_task($store, $iid);
is(wait_task($store, $iid, $tid, qr/^running$/, 10)->{status}, 'running', 'slow task running');
sleep 0.5;
$nodes[2]->kill_redis;
$t = wait_task($store, $iid, $tid, qr/^(success|failed)$/, 30);
is($t->{status}, 'failed', 'a master killed mid-scan: failed');
like(analyzer_log($a), qr/task \Q$tid\E .*result=failed .*cause="127\.0\.0\.1:\d+: /,
     '... the cause in the log') or diag(analyzer_log($a));
stop_analyzer($a);

$store->done;
