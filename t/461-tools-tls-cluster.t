#!/usr/bin/perl
# TLS to a Redis Cluster of 3 masters with tls-cluster yes (created with
# redis-cli --tls --cluster create on the TLS ports; each node keeps a
# plain port for this test's own setup), as the task store and as the
# analysed instance:
#   - hotkeyctl instance add/list/remove through any node over TLS (the
#     slot map's ports are the TLS ones), the instance's policy read over
#     TLS;
#   - the analyzer with that store, on that cluster as a TLS target (the
#     store's keys are analysed too, colder than the test's): its
#     masters found by the tls-port of CLUSTER SHARDS, the true top 100
#     over the 3 masters with their TLS addresses as shards (counters
#     frozen, as t/420).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Hotkey::Test qw(uuid hex32 free_port);
use Hotkey::Analyzer qw(:all);
use Hotkey::Auth qw(ctl spew);
use Hotkey::TLS;

plan skip_all => 'hotkey-analyzer not built: make analyzer' unless analyzer_bin();
plan skip_all => 'redis-cli not installed'
    unless grep { -x "$_/redis-cli" } split /:/, $ENV{PATH};
plan skip_all => 'no openssl command' if system('openssl version >/dev/null 2>&1');
srand(465);

my $first = Hotkey::Test->new;
my $c = Hotkey::TLS::certs($first->prefix . '/tls');
my @tls = map { free_port() } 1 .. 3;
my @nodes = map {
    my $n = $_ ? Hotkey::Test->new : $first;
    $n->start_redis(args => [ lfu_args(), '--cluster-enabled', 'yes',
                              '--cluster-config-file', 'nodes.conf',
                              '--cluster-node-timeout', 2000,
                              '--cluster-port', free_port(),
                              Hotkey::TLS::redis_args($c, $tls[$_], cluster => 1) ]);
    $n;
} 0 .. 2;
my @taddrs = map { "127.0.0.1:$_" } @tls;
my @cli_tls = ('--tls', '--cacert', $c->{ca}, '--cert', $c->{client_crt},
               '--key', $c->{client_key});
my $out = `redis-cli @cli_tls --cluster create @taddrs --cluster-replicas 0 --cluster-yes 2>&1`;
is($? >> 8, 0, 'redis-cli --tls --cluster create') or diag($out);
ok(wait_until(20, sub {
    !grep { $_->redis('CLUSTER', 'INFO') !~ /cluster_state:ok/ } @nodes }),
   'the cluster is up');

# slot owners (the plain port's CLUSTER SLOTS names plain ports), and keys
# sent where they live
my @owner;
for my $s (@{ $nodes[0]->redis('CLUSTER', 'SLOTS') }) {
    my ($from, $to, $master) = @$s;
    my ($n) = grep { $_->redis_port == $master->[1] } @nodes;
    $owner[$_] = $n for $from .. $to;
}
ok(!grep({ !defined } @owner[0 .. 16383]), 'every slot has an owner');

sub crc16 {
    my ($s) = @_;
    my $crc = 0;
    for my $ch (unpack 'C*', $s) {
        $crc ^= $ch << 8;
        for (1 .. 8) {
            $crc = $crc & 0x8000 ? (($crc << 1) ^ 0x1021) : ($crc << 1);
            $crc &= 0xffff;
        }
    }
    return $crc;
}

sub node_of {
    my ($k) = @_;
    my $h = $k =~ /\{([^}]+)\}/ ? $1 : $k;
    return $owner[crc16($h) % 16384];
}

my %cmds;
for my $i (1 .. 4500) {
    my $k = "c:$i";
    push @{ $cmds{ node_of($k)->redis_port } }, [ node_of($k),
        $i % 3 ? [ 'SET', $k, 'v' x (1 + $i % 9) ] : [ 'HSET', $k, 'f', 'v' ] ];
}
$_->[0][0]->redis_pipeline(map { $_->[1] } @$_) for values %cmds;
for my $i (1 .. 250) {
    my $k = 'c:' . (1 + int rand 4500);
    touch(node_of($k), 0, $k, 1 + int rand 40);
}

my $shards = $nodes[0]->redis('CLUSTER', 'SHARDS');
my $node0 = { @{ { @{ $shards->[0] } }->{nodes}[0] } };
ok($node0->{'tls-port'} && grep({ $_ == $node0->{'tls-port'} } @tls),
   'CLUSTER SHARDS names each node\'s tls-port') or diag(explain($node0));

# ------------------------------------------------------------ hotkeyctl

my @stls = ('--store', $taddrs[1], '--store-tls', '--store-tls-ca', $c->{ca},
            '--store-tls-cert', $c->{client_crt}, '--store-tls-key', $c->{client_key},
            '--store-tls-name', 'redis.test');
my @ttls = ('--tls', '--tls-ca', $c->{ca}, '--tls-cert', $c->{client_crt},
            '--tls-key', $c->{client_key});
my $P = hex32();
my @iids = map { uuid() } 1 .. 6;
for my $iid (@iids) {
    my ($rc, $o) = ctl($first, 'instance', 'add', @stls, '--project', $P, '--instance', $iid,
                       '--addr', $taddrs[0], '--mode', 'cluster', @ttls);
    is($rc, 0, "add $iid through a TLS node of the store cluster") or diag $o;
}
my %on = map { node_of("hotkey:{$_}:instance")->redis_port => 1 } @iids;
cmp_ok(scalar keys %on, '>=', 2, '... their hashes on several masters (MOVED over TLS)');
my $h = { @{ node_of("hotkey:{$iids[0]}:instance")->redis('HGETALL', "hotkey:{$iids[0]}:instance") } };
is_deeply([ @$h{qw(tls mode eviction_policy addr)} ], [ 1, 'cluster', 'allkeys-lfu', $taddrs[0] ],
          '... the hash: tls, cluster, the policy read over TLS');
my ($rc, $list) = ctl($first, 'instance', 'list', @stls);
is($rc, 0, 'list over TLS: 0') or diag $list;
is(scalar(() = $list =~ /tls=yes .*registered=yes/g), 6, '... the 6 instances');
($rc, $out) = ctl($first, 'instance', 'remove', @stls, '--instance', $iids[5]);
is($rc, 0, 'remove over TLS: 0') or diag $out;

# ------------------------------------------------------------ the analyzer

my $creds = $first->prefix . '/analyzer-credentials';
spew($creds, "$iids[0] tls-ca=$c->{ca} tls-cert=$c->{client_crt} tls-key=$c->{client_key}"
             . " tls-name=redis.test\n", 0600);
my $a = start_analyzer($first, args => [ '--no-pacing', '--credentials', $creds,
                                         @stls ]);
my $bin = analyzer_bin();
my $snap = snapshot(map { [ $nodes[$_], shard => $taddrs[$_] ] } 0 .. 2);
my $tid = `'$bin' @stls --create-task $iids[0] 2>&1`;
chomp $tid;
like($tid, qr/^[0-9a-f-]{36}$/, '--create-task on the TLS store cluster') or diag $tid;
my $store = node_of("hotkey:{$iids[0]}:instance");
my $t = wait_task($store, $iids[0], $tid, qr/^(success|failed)$/, 60);
is($t->{status}, 'success', 'a TLS cluster target: success') or diag(analyzer_log($a));
my $keys = task_keys($store, $iids[0], $tid);
is_deeply($keys, truth($snap), '... the true top 100 over the 3 masters, TLS addresses as shards');
my %seen = map { (split /\|/)[5] => 1 } @$keys;
is_deeply([ sort keys %seen ], [ sort @taddrs ], '... hot keys on each TLS shard');
my ($scanned) = analyzer_log($a) =~ /task \Q$tid\E .*result=success keys_scanned=(\d+) hot_keys=100 shards=3 /;
cmp_ok($scanned // 0, '>=', 4500, '... the 4500 keys (and the store\'s own) on 3 shards');
stop_analyzer($a);
is($a->{status}, 0, 'SIGTERM: exit 0');

$_->stop_redis for @nodes[1, 2];
$first->done;
