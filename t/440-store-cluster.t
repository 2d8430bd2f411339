#!/usr/bin/perl
# A Redis Cluster as the task store (hotkey_store_cluster): three masters
# with a replica each, instances on every shard.  Every route answers
# from the right shard; a slot moved, whole or half, is followed (MOVED,
# ASK) with no failed answer, also under load; a master killed under load
# costs only 500 DCS.5000 JSON answers while its slots have no master, and
# the first success after the promotion comes without a reload.  The
# outage is measured and printed.  nginx -t refuses what cannot work.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Cluster;

my $c = Hotkey::Cluster->new(masters => 3, replicas => 1,
                             node_timeout => 1000,
                             args => ['--maxmemory-policy', 'allkeys-lfu',
                                      # the other shards answer while one
                                      # has no master
                                      '--cluster-require-full-coverage',
                                      'no']);
my $t = Hotkey::Test->new(workers => 2);
my $store = $c->store;
my $pid = uuid();

# ---------------------------------------------------------------- config

sub upstream {
    my (%o) = @_;
    my $servers = join '', map { "        server $_;\n" }
                           @{ $o{servers} || [ $c->nodes ] };
    my $cl = $o{cluster} // 'hotkey_store_cluster refresh=2s;';
    return "    upstream cl {\n        $cl\n$servers"
         . "        keepalive 8;\n    }\n";
}

my $cache = "    hotkey_cache_zone cl:1m;\n";
my $http = $cache . upstream()
         . $t->api_server(store => 'cl', server_extra => <<'EOF');
        location /c/ {
            rewrite ^/c(/.*)$ $1 break;
            hotkey_api on;
            hotkey_auth off;
            hotkey_store cl;
            hotkey_cache cl;
            hotkey_cache_valid 30s;
        }
        location /s/ {
            rewrite ^/s(/.*)$ $1 break;
            hotkey_api on;
            hotkey_auth off;
            hotkey_store cl;
            hotkey_cache cl;
            hotkey_cache_valid 500ms;
            hotkey_cache_stale_if_error 1m;
        }
EOF

for my $bad (
    [ 'after another balancer',
      "    upstream cl {\n        hash \$uri;\n        hotkey_store_cluster;\n"
      . "        server 127.0.0.1:1;\n    }\n", qr/after another balancer/ ],
    [ 'a unix socket seed',
      "    upstream cl {\n        hotkey_store_cluster;\n"
      . "        server unix:/nonexistent.sock;\n    }\n",
      qr/not an IP address/ ],
    [ 'redirects=0', upstream(cluster => 'hotkey_store_cluster redirects=0;'),
      qr/invalid "redirects"/ ],
    [ 'refresh=10ms', upstream(cluster => 'hotkey_store_cluster refresh=10ms;'),
      qr/invalid "refresh"/ ],
    [ 'an unknown parameter', upstream(cluster => 'hotkey_store_cluster x=1;'),
      qr/invalid parameter "x=1"/ ],
    [ 'weight= on a seed',
      "    upstream cl {\n        hotkey_store_cluster;\n"
      . "        server 127.0.0.1:1 weight=2;\n    }\n", qr/weight/ ],
) {
    my ($rc, $out) = $t->nginx_t($bad->[1] . $t->api_server(store => 'cl'));
    isnt($rc, 0, "nginx -t refuses $bad->[0]");
    like($out, $bad->[2], "... and says why ($bad->[0])");
}

my ($rc, $out) = $t->nginx_t($http);
is($rc, 0, 'nginx -t accepts the cluster store') or diag $out;

# ---------------------------------------------------------------- data

my (%tasks, @iids);
for my $m ($c->masters) {
    my $iid = $c->instance_on($m);
    push @iids, $iid;
    $store->redis('HSET', "hotkey:{$iid}:instance", project_id => $pid,
                  eviction_policy => 'allkeys-lfu');
    my @ts = map { Hotkey::Test::make_task(status => 'success') } 1 .. 12;
    $store->redis_pipeline(map { $t->_task_cmds($iid, $_) } @ts);
    $tasks{$iid} = \@ts;
}
my %slots = map { $c->slot_of_instance($_) => 1 } @iids;
is(scalar keys %slots, 3, 'three instances on three shards');

$t->start_nginx($http);
$t->allow_log(qr/hotkey (store|cluster)/);

sub list_ok {
    my ($iid, $name, @h) = @_;
    my $res = $t->request('GET', $t->list_path($pid, $iid, 'limit=100'),
                          [ @h ]);
    is_json_ok($res, expected_list($iid, $tasks{$iid}, limit => 100), $name);
    return $res;
}

list_ok($_, "list of an instance on shard of " . $c->master_of_instance($_))
    for @iids;

# ---------------------------------------------------------------- routes

for my $iid (@iids) {
    my $base = "/v2/$pid/instances/$iid";
    my $res = $t->request('POST', "$base/hotkey-task", [], '');
    is($res->{status}, 200, "create on shard " . $c->master_of_instance($iid));
    my $id = $res->{json} && $res->{json}{id};
    ok($id && $store->redis('HGET', "hotkey:{$iid}:task:$id", 'status')
              eq 'waiting', '... the record is on the cluster');
    $res = $t->get("$base/hotkey-task/$id");
    is($res->{json} && $res->{json}{status}, 'waiting', '... details');
    $res = $t->request('POST', "$base/hotkey-task", [], '');
    is_json_error($res, 400, 'DCS.4026', qr/./, '... a second create conflicts');
    $store->redis('HSET', "hotkey:{$iid}:task:$id", status => 'success',
                  finished_at => 1592187678669);
    $store->redis('ZREM', "hotkey:{$iid}:tasks:waiting", $id);
    $store->redis('ZADD', "hotkey:{$iid}:tasks:success", 1, $id);
    $res = $t->request('DELETE', "$base/hotkey-task/$id", [], undef);
    is($res->{status}, 204, '... delete');
    is($store->redis('EXISTS', "hotkey:{$iid}:task:$id"), 0, '... gone');
    $res = $t->request('PUT', "$base/hotkey/autoscan", [],
                       '{"enable_auto_scan":true,"schedule_at":["03:30"]}');
    is($res->{status}, 200, '... autoscan PUT');
    $res = $t->get("$base/hotkey/autoscan");
    is_deeply($res->{json} && $res->{json}{schedule_at}, ['03:30'],
              '... autoscan GET');
}

# a write on one shard reaches the cached list through the subscriptions
{
    my $iid = $iids[1];
    my $path = '/c' . $t->list_path($pid, $iid, 'limit=1');
    $t->get($path);
    my $before = $t->get($path);
    my $n0 = $before->{json}{count};
    my $res = $t->request('POST', "/v2/$pid/instances/$iid/hotkey-task", [],
                          '');
    is($res->{status}, 200, 'create under a cached list');
    my $n1;
    my $t0 = time;
    while (time - $t0 < 2) {
        $n1 = $t->get($path)->{json}{count};
        last if $n1 == $n0 + 1;
        sleep 0.01;
    }
    is($n1, $n0 + 1, 'the cached list follows the write');
    diag sprintf 'a write reached the cached list in %.1f ms',
                 1000 * (time - $t0);
    my $id = $res->{json}{id};
    $store->redis('DEL', "hotkey:{$iid}:task:$id");
    $store->redis('ZREM', "hotkey:{$iid}:tasks", $id);
    $store->redis('ZREM', "hotkey:{$iid}:tasks:waiting", $id);
    $store->redis('DEL', "hotkey:{$iid}:queue");
}

# ---------------------------------------------------------------- moves

# load: a child lists the instance without pause; each answer is logged
sub load {
    my ($iid, $file) = @_;
    my $child = fork // die "fork: $!";
    if (!$child) {
        open my $fh, '>', $file or POSIX::_exit(1);
        $fh->autoflush(1);
        my $path = $t->list_path($pid, $iid, 'limit=100');
        while (1) {
            my $res = $t->request('GET', $path, [], undef,
                                  timeout => 5);
            my $json = $res->{json} ? 1 : 0;
            my $code = $res->{json} && $res->{json}{error_code} // '-';
            my $ok = $res->{status} == 200 && $json
                     && $res->{json}{count} == @{ $tasks{$iid} } ? 1 : 0;
            printf $fh "%.4f %d %d %s %d\n", time, $res->{status}, $json,
                   $code, $ok;
        }
    }
    return $child;
}

sub stop_load {
    my ($child, $file) = @_;
    kill 'TERM', $child;
    waitpid $child, 0;
    open my $fh, '<', $file or die $!;
    return map { [ split ' ' ] } <$fh>;
}

{
    my $iid = $iids[0];
    my $slot = $c->slot_of_instance($iid);
    my ($from) = $c->master_of_slot($slot);
    my ($to) = grep { $_ ne $from } $c->masters;

    my $mark = $t->log_mark;
    $c->migrate_slot($slot, $to);
    list_ok($iid, 'a moved slot is followed (MOVED)');
    like($t->log_since($mark), qr/MOVED $slot to \Q$to\E/,
         '... as the error log says');

    my $file = $t->prefix . '/load-migrate';
    my $child = load($iid, $file);
    sleep 0.3;
    $mark = $t->log_mark;
    $c->migrate_slot($slot, $from, keys => 10);
    sleep 0.3;
    $c->finish_migration($slot);
    sleep 0.3;
    my @r = stop_load($child, $file);
    my @bad = grep { !$_->[4] } @r;
    cmp_ok(scalar @r, '>', 20, scalar(@r) . ' lists during a slot migration');
    is(scalar @bad, 0, '... every one a full, right answer')
        or diag explain [ @bad[0 .. ($#bad < 5 ? $#bad : 5)] ];
    like($t->log_since($mark), qr/ASK $slot to /, '... ASK was followed');
    is($c->master_of_slot($slot), $from, '... the slot is back');
}

# ---------------------------------------------------------------- failover

{
    my $iid = $iids[2];
    my $slot = $c->slot_of_instance($iid);
    my @workers = sort $t->worker_pids;
    my $file = $t->prefix . '/load-failover';
    my $child = load($iid, $file);
    sleep 0.5;
    my $killed_at = time;
    my $dead = $c->kill_master_of($slot);
    my $took = $c->wait_failover($slot, 30);
    ok(defined $took, "the replica took over from $dead");
    sleep 1;
    my @r = stop_load($child, $file);

    my @after = grep { $_->[0] > $killed_at } @r;
    my @fail = grep { !$_->[4] } @after;
    my ($first_ok) = grep { $_->[4] } grep { $_->[0] > $fail[-1][0] } @after
        if @fail;
    is(scalar(grep { !$_->[2] } @r), 0, 'no answer without JSON');
    is(scalar(grep { !$_->[4] && !($_->[1] == 500 && $_->[3] eq 'DCS.5000') }
                   @r),
       0, 'every failed answer is 500 DCS.5000');
    ok(!@fail || $fail[-1][0] < $killed_at + ($took // 30) + 1,
       '... and only until the promotion');
    ok($r[-1][4], 'answers are right again after the promotion');
    diag sprintf 'failover: %d failed of %d answers after the kill; '
               . 'cluster promoted in %.2f s; first success %.2f s after '
               . 'the kill',
                 scalar @fail, scalar @after, $took // -1,
                 $first_ok ? $first_ok->[0] - $killed_at : 0;
    is_deeply([ sort $t->worker_pids ], \@workers, 'no worker restarted');

    my $res = $t->request('POST', "/v2/$pid/instances/$iid/hotkey-task", [],
                          '');
    is($res->{status}, 200, 'a write on the promoted master');
}

# a cluster with no master at all for a slot: 500 JSON, fast
{
    my $iid = $iids[1];
    my $slot = $c->slot_of_instance($iid);
    my $m = $c->master_of_slot($slot);
    my $stale = '/s' . $t->list_path($pid, $iid, 'limit=2');
    is($t->get($stale)->{status}, 200, 'a list cached for 500 ms');
    for my $r (grep { $c->redis($_, 'ROLE')->[0] eq 'slave'
                      && $c->redis($_, 'ROLE')->[1] . ':'
                         . $c->redis($_, 'ROLE')->[2] eq $m } $c->replicas)
    {
        $c->kill_node($r);
    }
    $c->kill_node($m);
    my $t0 = time;
    my $res = $t->request('GET', $t->list_path($pid, $iid, ''),
                          [], undef, timeout => 10);
    is_json_error($res, 500, 'DCS.5000', qr/./,
                  'a slot with no master left: 500 DCS.5000');
    cmp_ok(time - $t0, '<', 5, '... within the timeouts');
    sleep 0.6;
    my $res2 = $t->get($stale);
    is($res2->{status}, 200,
       '... its cached list is served stale: the other nodes still '
       . 'carry every write');
    like($res2->{headers}{'x-cache-status'} // '', qr/STALE/,
         '... said STALE');
    list_ok($iids[0], 'the other shards still answer');
}

# a reload onto another cluster under the same upstream name: its data,
# not the old map's nodes
{
    my $c2 = Hotkey::Cluster->new(masters => 3, replicas => 0);
    my $iid = $iids[0];
    my $s2 = $c2->store;
    my @ts = map { Hotkey::Test::make_task(status => 'failed') } 1 .. 3;
    $s2->redis('HSET', "hotkey:{$iid}:instance", project_id => $pid,
               eviction_policy => 'allkeys-lfu');
    $s2->redis_pipeline(map { $t->_task_cmds($iid, $_) } @ts);
    my $http2 = $http;
    my $old = upstream();
    $http2 =~ s/\Q$old\E/upstream(servers => [ $c2->nodes ])/e;
    my ($rc, $replaced) = $t->reload($http2);
    ok($rc == 0 && $replaced, 'reloaded onto another cluster');
    $tasks{$iid} = \@ts;
    list_ok($iid, "... the list is the new cluster's at once");
    $c2->stop;
}

$t->done;
