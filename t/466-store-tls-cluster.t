#!/usr/bin/perl
# A Redis Cluster that speaks TLS (tls-cluster yes) as the store:
# hotkey_store_cluster with hotkey_store_tls.  The seeds are the nodes'
# TLS ports; the slot map, read over TLS, names the TLS ports of every
# node; requests reach every shard, the subscriptions to every node keep
# a cached list in step with a write, a moved slot is followed, and a
# master killed is failed over without a reload.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Cluster;
use Hotkey::TLS;

my $t = Hotkey::Test->new(workers => 2);
my $certs = Hotkey::TLS::certs($t->prefix . '/tls');
my $c = Hotkey::Cluster->new(masters => 3, replicas => 1,
                             node_timeout => 1000, tls => $certs,
                             args => ['--cluster-require-full-coverage',
                                      'no']);
my $store = $c->store;
my $pid = uuid();

my $tls = "hotkey_store_tls trusted=$certs->{ca} name=redis.test "
        . "certificate=$certs->{client_crt} key=$certs->{client_key};";
my $seeds = join '', map { "        server 127.0.0.1:" . $c->tls_port($_)
                           . ";\n" } ($c->masters)[0, 1];
my $http = <<"EOF";
    hotkey_cache_zone cl:1m;
    upstream cl {
        hotkey_store_cluster refresh=2s;
        $tls
$seeds        keepalive 8;
    }
EOF
$http .= $t->api_server(store => 'cl', server_extra => <<'EOF');
        location /c/ {
            rewrite ^/c(/.*)$ $1 break;
            hotkey_api on;
            hotkey_auth off;
            hotkey_store cl;
            hotkey_cache cl;
            hotkey_cache_valid 60s;
        }
EOF

my (%tasks, @iids);
for my $m ($c->masters) {
    my $iid = $c->instance_on($m);
    push @iids, $iid;
    $store->redis('HSET', "hotkey:{$iid}:instance", project_id => $pid,
                  eviction_policy => 'allkeys-lfu');
    my @ts = map { Hotkey::Test::make_task(status => 'success') } 1 .. 5;
    $store->redis_pipeline(map { $t->_task_cmds($iid, $_) } @ts);
    $tasks{$iid} = \@ts;
}

$t->start_nginx($http);
$t->allow_log(qr/hotkey (store|cluster|: the subscription)|SSL|upstream/);

sub list_ok {
    my ($iid, $name, $prefix) = @_;
    my $res = $t->get(($prefix // '') . $t->list_path($pid, $iid, 'limit=100'));
    is_json_ok($res, expected_list($iid, $tasks{$iid}, limit => 100), $name);
}

list_ok($_, 'over TLS, the list of an instance on the shard of '
            . $c->master_of_instance($_)) for @iids;

{
    my ($m0) = $c->masters;
    my ($port) = $m0 =~ /:(\d+)$/;
    my $tp = $c->tls_port($m0);
    my $slots = $c->cli($m0, 'CLUSTER', 'SLOTS');
    ok($slots =~ /^$port$/m && $slots !~ /^$tp$/m,
       'a plain client is told plain ports (the harness keeps working)');
}

# the subscription to every node speaks TLS: a write reaches a list
# cached for 60 s, on every shard
for my $iid (@iids) {
    my $path = '/c' . $t->list_path($pid, $iid, 'limit=1');
    my $n0 = $t->get($path)->{json}{count};
    my $res = $t->request('POST', "/v2/$pid/instances/$iid/hotkey-task",
                          [], '');
    is($res->{status}, 200, 'a create over TLS on the shard of '
                            . $c->master_of_instance($iid));
    my $n1;
    poll(3, sub { ($n1 = $t->get($path)->{json}{count}) == $n0 + 1 });
    is($n1, $n0 + 1, '... and reaches the cached list');
    my $id = $res->{json}{id};
    $store->redis('HSET', "hotkey:{$iid}:task:$id", status => 'success',
                  finished_at => 1592187678669);
    $store->redis('ZREM', "hotkey:{$iid}:tasks:waiting", $id);
    $store->redis('DEL', "hotkey:{$iid}:task:$id");
    $store->redis('ZREM', "hotkey:{$iid}:tasks", $id);
}

# a slot moved to another master: MOVED followed over TLS
{
    my $iid = $iids[0];
    my $slot = $c->slot_of_instance($iid);
    my $from = $c->master_of_slot($slot);
    my ($to) = grep { $_ ne $from } $c->masters;
    $c->migrate_slot($slot, $to);
    list_ok($iid, "after the slot moved from $from to $to");
}

# a master killed: its replica promoted, served again without a reload
{
    my $iid = $iids[1];
    my $slot = $c->slot_of_instance($iid);
    $c->kill_master_of($slot);
    my $took = $c->wait_failover($slot, 30);
    ok(defined $took, 'the replica was promoted');
    my $ok = poll(15, sub {
        $t->get($t->list_path($pid, $iid, 'limit=100'))->{status} == 200
    }, 0.1);
    ok($ok, 'the instance of the failed shard is served again, over TLS');
    list_ok($iids[2], 'another shard still served');
}

$c->stop;
$t->done;
