#!/usr/bin/perl
# hotkeyctl and hotkey-analyzer with a Redis Cluster as the task store
# (3 masters, 3 replicas: Hotkey::Cluster): instances registered on each
# of the 3 shards through any node, a replica too; list and remove
# across the shards; a half-migrated slot (ASK) and a moved one (MOVED);
# the analyzer finishes tasks of instances on every shard, seeded with
# one node; that node, the master of hotkey:registry and of a running
# task's instance, SIGKILLed mid-task: the analyzer subscribes elsewhere,
# rides out the failover and loses no task.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Hotkey::Test qw(build_file private_copy);
use Hotkey::Analyzer qw(:all);
use Time::HiRes qw(time sleep);
use POSIX qw(:sys_wait_h);

plan skip_all => 'hotkey-analyzer not built: make analyzer' unless analyzer_bin();
plan skip_all => 'hotkeyctl not built: make cli' unless -x build_file('hotkeyctl');
plan skip_all => 'redis-cli not installed'
    unless grep { -x "$_/redis-cli" } split /:/, $ENV{PATH};
require Hotkey::Cluster;

my $CTL = private_copy(build_file('hotkeyctl'));
my $P = 'e46ec5a1-4d32-4072-a89d-aae309ef775f';

my $c = Hotkey::Cluster->new(masters => 3, replicas => 1, node_timeout => 1000);
my $store = $c->store;
my @m = $c->masters;
my @r = $c->replicas;
is(scalar @m, 3, '3 masters');
is(scalar @r, 3, '3 replicas');

sub ctl {
    my $out = `'$CTL' @_ 2>&1`;
    return ($? >> 8, $out);
}

sub hash_on {
    my ($addr, $iid) = @_;
    my $h = $c->redis($addr, 'HGETALL', "hotkey:{$iid}:instance");
    return ref $h eq 'ARRAY' ? { @$h } : {};
}

# ------------------------------------------------------------ hotkeyctl

# the master of hotkey:registry, the one killed below: its instance's
# task runs when it dies
my $reg_slot = $c->slot_of('hotkey:registry');
my $victim = $c->master_of_slot($reg_slot);
@m = ($victim, grep { $_ ne $victim } @m);
my @iid = map { $c->instance_on($_) } @m;
my @tgt = map { target(keys => $_ ? 300 : 3000) } 0 .. 2;
for my $i (0 .. 2) {
    touch($tgt[$i], 0, "k:$_", $_ % 17) for 1 .. 120;
}

for my $i (0 .. 2) {
    my $seed = (@r, @m)[$i * 2];             # replicas and masters
    my ($rc, $out) = ctl('instance', 'add', '--store', $seed, '--project', $P,
        '--instance', $iid[$i], '--addr', '127.0.0.1:' . $tgt[$i]->redis_port);
    is($rc, 0, "instance $i added through $seed") or diag($out);
    like($out, qr/allkeys-lfu: registered/, '... its policy read');
    is(hash_on($m[$i], $iid[$i])->{project_id}, $P,
       "... its hash is on master $i, the master of its slot");
}
is_deeply([ sort @{ $store->redis('SMEMBERS', 'hotkey:registry') } ],
          [ sort @iid ], 'the registry holds the three');

my $hand = $c->instance_on($m[1]);
$store->redis('HSET', "hotkey:{$hand}:instance", project_id => $P);
my $gone = $c->instance_on($m[2]);
my ($rc, $out) = ctl('instance', 'add', '--store', $m[0], '--project', $P,
    '--instance', $gone, '--addr', '127.0.0.1:1', '--policy', 'allkeys-lfu');
is($rc, 0, 'a fourth instance');

($rc, $out) = ctl('instance', 'list', '--store', $r[1]);
is($rc, 0, 'list through a replica');
for my $i (0 .. 2) {
    like($out, qr/^\Q$iid[$i]\E project_id=\Q$P\E addr=127\.0\.0\.1:\d+ .*registered=yes/m,
         "... instance $i");
}
like($out, qr/^\Q$hand\E .*registered=no/m,
     '... and a hash written by hand on another master (every master scanned)');

$store->redis('ZADD', "hotkey:{$gone}:tasks", 1, 't1');
$store->redis('RPUSH', "hotkey:{$gone}:queue", 't1');
($rc, $out) = ctl('instance', 'remove', '--store', $m[0], '--instance', $gone);
is($rc, 1, 'remove refused while it has a task record');
($rc, $out) = ctl('instance', 'remove', '--store', $m[0], '--instance', $gone,
                  '--force');
is($rc, 0, 'remove --force through another master') or diag($out);
like($out, qr/with 2 more keys/, '... its tasks went too');
is($c->redis($m[2], 'EXISTS', "hotkey:{$gone}:queue", "hotkey:{$gone}:instance"),
   0, '... from the master that held them');
is($store->redis('SISMEMBER', 'hotkey:registry', $gone), 0, '... and the registry');

# a slot half-way to another master: the hash moved, ASK to get there
my $slot1 = $c->slot_of_instance($iid[1]);
$c->migrate_slot($slot1, $m[2], move => [ "hotkey:{$iid[1]}:instance" ]);
like($c->redis($m[1], 'HGET', "hotkey:{$iid[1]}:instance", 'addr')->{err},
     qr/^ASK /, 'a half-migrated slot: its old master answers ASK');
($rc, $out) = ctl('instance', 'add', '--store', $m[1], '--project', $P,
    '--instance', $iid[1], '--addr', '127.0.0.1:' . $tgt[1]->redis_port,
    '--mode', 'cluster', '--policy', 'allkeys-lfu');
is($rc, 0, '... add updates it through ASK') or diag($out);
is(($c->node($m[2])->redis_pipeline(
       ['ASKING'], ['HGET', "hotkey:{$iid[1]}:instance", 'mode']))[1],
   'cluster', '... on the importing master');
ok($c->finish_migration($slot1), 'the slot moved');
($rc, $out) = ctl('instance', 'add', '--store', $m[0], '--project', $P,
    '--instance', $iid[1], '--addr', '127.0.0.1:' . $tgt[1]->redis_port);
is($rc, 0, '... add after the move (MOVED)') or diag($out);
is(hash_on($m[2], $iid[1])->{mode}, 'standalone', '... written on its new master');
($rc, $out) = ctl('instance', 'list', '--store', $m[0]);
like($out, qr/^\Q$iid[1]\E .*mode=standalone .*registered=yes/m, '... listed');
my $owner1 = $m[2];

# ------------------------------------------------------------ the analyzer

# seeded with the node that dies below; no registry walk for 20 s after
# the first, so that a quick take proves the subscription
my $a = start_analyzer($store, name => 'cluster',
    args => [ '--store', $victim, '--pass-ms', 20000, '--no-pacing' ]);

sub subscribers {
    my $n = 0;
    for my $addr (grep { $c->alive($_) } $c->nodes) {
        my $r = eval { $c->redis($addr, 'PUBSUB', 'NUMSUB', 'hotkey:jobs') };
        $n += $r->[1] if ref $r eq 'ARRAY';
    }
    return $n;
}

ok(wait_until(10, sub { subscribers() == 1 }), 'the analyzer follows hotkey:jobs');
my @snap = map { snapshot([ $tgt[$_], shard => '127.0.0.1:' . $tgt[$_]->redis_port ]) } 0 .. 2;
my @tid = map { create_task($store, $_) } @iid;
ok(!grep({ !defined } @tid), 'a task for each shard created');
for my $i (0 .. 2) {
    my $t = wait_task($store, $iid[$i], $tid[$i], qr/^(success|failed)$/, 20);
    is($t->{status}, 'success', "the task of shard $i succeeds")
        or diag(analyzer_log($a));
    cmp_ok($t->{started_at} - $t->{created_at}, '<', 3000,
           '... taken at once: hotkey:jobs reached the analyzer') if $i == 0;
    is_deeply(task_keys($store, $iid[$i], $tid[$i]), truth($snap[$i]),
              '... with the true top 100 of its instance');
}

# a slow task on the victim's instance, a waiting one on another shard
stop_analyzer($a);
$a = start_analyzer($store, name => 'failover',
    args => [ '--store', $victim, '--pass-ms', 1000, '--cpu-share', '0.02',
              '--scan-count', 10, '--renew-ms', 500, '--lease-ms', 15000 ]);
ok(wait_until(10, sub { subscribers() == 1 }), 'failover: subscribed');
my $slow = create_task($store, $iid[0]);
is(wait_task($store, $iid[0], $slow, qr/^running$/, 10)->{status}, 'running',
   'a task of the victim\'s instance running');
my $queued = create_task($store, $iid[2]);
sleep 0.5;
is(task($store, $iid[0], $slow)->{status}, 'running', '... still running');
my $killed = $c->kill_master_of($reg_slot);
is($killed, $victim, 'the master of the registry and of the task killed');
my $t0 = time;
my $failover = $c->wait_failover($reg_slot, 30);
ok($failover, 'a replica took over') or BAIL_OUT('no failover');
note(sprintf 'cluster failover: %.2f s after the kill', $failover);

ok(wait_until(10, sub { subscribers() == 1 }),
   'the analyzer subscribed to another node');
my $t = wait_task($store, $iid[0], $slow, qr/^(success|failed)$/, 40);
is($t->{status}, 'success', 'the running task succeeds after the failover')
    or diag(analyzer_log($a));
is($t->{attempts}, 1, '... in its first attempt');
note(sprintf 'the running task finished %.2f s after the kill',
             $t->{finished_at} / 1000 - $t0);
$t = wait_task($store, $iid[2], $queued, qr/^(success|failed)$/, 40);
is($t->{status}, 'success', 'the task waiting meanwhile succeeds');

my $after = create_task($store, $iid[0]);
$t = wait_task($store, $iid[0], $after, qr/^(success|failed)$/, 30);
is($t->{status}, 'success', 'a new task on the new master succeeds');
note(sprintf 'new task on the promoted master taken %.2f s after its creation',
             ($t->{started_at} - $t->{created_at}) / 1000);

my @left;
for my $iid (@iid) {
    for my $st (qw(waiting running)) {
        push @left, @{ $store->redis('ZRANGE', "hotkey:{$iid}:tasks:$st", 0, -1) };
    }
}
is_deeply(\@left, [], 'no task left waiting or running');
ok(kill(0, $a->{pid}) && waitpid($a->{pid}, WNOHANG) == 0, 'the analyzer is alive');
my $log = analyzer_log($a);
like($log, qr/task store \Q$victim\E: .*retrying/, 'the outage is in the log');
like($log, qr/task store \S+ is back/, '... and the end of it');
unlike($log, qr/result=(lost|failed|unsaved)/, 'no task lost, failed or unsaved');

($rc, $out) = ctl('instance', 'list', '--store', $victim . ',' . $owner1);
is($rc, 0, 'hotkeyctl: the dead seed skipped');
like($out, qr/^\Q$iid[0]\E .*tasks=[1-9]/m, '... the promoted master read');

stop_analyzer($a);
is($a->{status}, 0, 'the analyzer exits 0 on SIGTERM');
$c->stop;
done_testing;
