#!/usr/bin/perl
# scripts/faults-cluster.pl: the cluster store under wrk load (`make faults`
# runs it after scripts/faults.sh).  A Redis Cluster of three masters with
# a replica each; nginx (2 workers, cache off) lists 30 instances spread
# over the shards while:
#
#   reshard   one instance's slot is migrated to another master, key by key
#             (SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE)
#   failover  the master of another instance's slot is SIGKILLed; its
#             replica is promoted after cluster-node-timeout (1 s)
#
# and reports, per phase: answers, failed answers (they must all be 500
# DCS.5000 JSON, and only while a slot has no master), answers without
# JSON (must be 0), worker crashes (must be 0), and for the failover the
# time from the kill to the promotion and to the first success of a
# request for the killed slot (a probe polling every 10 ms).
# Exit status 1 when a rule is broken.
#
# Env: FAULTS_DURATION (seconds of load per phase, 6), FAULTS_CONNECTIONS (20)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Cluster;

my $secs = $ENV{FAULTS_DURATION} || 6;
my $conns = $ENV{FAULTS_CONNECTIONS} || 20;
my ($wrk) = grep { -x } map { "$_/wrk" } split /:/, $ENV{PATH};
die "faults-cluster: wrk is not installed\n" unless $wrk;

my $c = Hotkey::Cluster->new(masters => 3, replicas => 1,
                             node_timeout => 1000);
my $t = Hotkey::Test->new(workers => 2, log_level => 'warn');
my $pid = uuid();
my $cs = $c->store;

my @iids = map { $c->instance_on(($c->masters)[$_ % 3]) } 0 .. 29;
for my $iid (@iids) {
    $cs->redis_pipeline(
        ['HSET', "hotkey:{$iid}:instance", project_id => $pid,
         eviction_policy => 'allkeys-lfu'],
        map { $t->_task_cmds($iid, Hotkey::Test::make_task()) } 1 .. 10);
}

my $servers = join '', map { "        server $_;\n" } $c->nodes;
$t->start_nginx(<<"EOF");
    upstream cluster {
        hotkey_store_cluster;
$servers        keepalive 32;
    }
@{[ $t->api_server(store => 'cluster') ]}
EOF
my @workers = sort $t->worker_pids;

my $lua = $t->prefix . '/faults.lua';
open my $fh, '>', $lua or die $!;
print $fh "local p = {\n",
    map({ "  \"" . $t->list_path($pid, $_, 'limit=10') . "\",\n" } @iids),
    "}\nlocal i = 0\nok, e500, nojson, other = 0, 0, 0, 0\n",
    "request = function()\n  i = i + 1\n",
    "  return wrk.format(\"GET\", p[i % #p + 1])\nend\n",
    "response = function(status, headers, body)\n",
    "  if string.sub(body, 1, 1) ~= '{' then nojson = nojson + 1 end\n",
    "  if status == 200 then ok = ok + 1\n",
    "  elseif status == 500 and string.find(body, '\"DCS.5000\"', 1, true)\n",
    "  then e500 = e500 + 1 else other = other + 1 end\nend\n",
    "local threads = {}\n",
    "setup = function(th) table.insert(threads, th) end\n",
    "done = function()\n  local a = {0, 0, 0, 0}\n",
    "  for _, th in ipairs(threads) do\n",
    "    a[1] = a[1] + th:get('ok') a[2] = a[2] + th:get('e500')\n",
    "    a[3] = a[3] + th:get('nojson') a[4] = a[4] + th:get('other')\n",
    "  end\n",
    "  io.write(string.format('COUNTS %d %d %d %d\\n', a[1], a[2], a[3], a[4]))\n",
    "end\n";
close $fh;

sub with_load {
    my ($fault, $probe_iid) = @_;
    my $base = 'http://127.0.0.1:' . $t->nginx_port . '/';
    my $wpid = open my $wout, '-|',
        "'$wrk' -t2 -c$conns -d${secs}s -s '$lua' '$base' 2>&1" or die $!;
    my $probe = $t->prefix . "/probe-$probe_iid";
    my $child = fork // die;
    if (!$child) {
        open my $pf, '>', $probe or POSIX::_exit(1);
        $pf->autoflush(1);
        my $path = $t->list_path($pid, $probe_iid, 'limit=10');
        my $end = time + $secs;
        while (time < $end) {
            my $r = $t->get($path);
            printf $pf "%.4f %d\n", time, $r->{status};
            sleep 0.01;
        }
        POSIX::_exit(0);
    }
    sleep 1;
    my $at = time;
    my %info = $fault->();
    my $o = join '', <$wout>;
    close $wout;
    waitpid $child, 0;
    my ($ok, $e500, $nojson, $other) = $o =~ /COUNTS (\d+) (\d+) (\d+) (\d+)/
        or die "faults-cluster: wrk failed:\n$o";
    open my $pf, '<', $probe or die $!;
    my @p = map { [ split ' ' ] } <$pf>;
    my @bad = grep { $_->[0] > $at && $_->[1] != 200 } @p;
    my ($first) = @bad ? grep { $_->[0] > $bad[-1][0] && $_->[1] == 200 } @p
                       : ();
    return { ok => $ok, e500 => $e500, nojson => $nojson, other => $other,
             probe_failed => scalar @bad,
             first_ok => $first ? $first->[0] - $at : undef, %info };
}

my $fail = 0;

my $moved = $iids[0];
my $slot = $c->slot_of_instance($moved);
my $from = $c->master_of_slot($slot);
my ($to) = grep { $_ ne $from } $c->masters;
my $r = with_load(sub { $c->migrate_slot($slot, $to); () }, $moved);
printf "reshard (slot %d, %s -> %s): %d answers, %d 500 DCS.5000, "
     . "%d other failures, %d without JSON\n",
     $slot, $from, $to, $r->{ok} + $r->{e500} + $r->{other}, $r->{e500},
     $r->{other}, $r->{nojson};
$fail ||= $r->{e500} + $r->{other} + $r->{nojson};

my $victim = $iids[2];
$slot = $c->slot_of_instance($victim);
$r = with_load(sub {
    my $dead = $c->kill_master_of($slot);
    my $took = $c->wait_failover($slot, 30);
    return (dead => $dead, promoted => $took);
}, $victim);
printf "failover (%s killed): %d answers, %d 500 DCS.5000, %d other "
     . "failures, %d without JSON; promoted after %.2f s, first success "
     . "for its slot %.2f s after the kill (%d probe failures)\n",
     $r->{dead}, $r->{ok} + $r->{e500} + $r->{other}, $r->{e500},
     $r->{other}, $r->{nojson}, $r->{promoted} // -1, $r->{first_ok} // -1,
     $r->{probe_failed};
$fail ||= $r->{other} + $r->{nojson};
$fail ||= !defined $r->{first_ok}
          || $r->{first_ok} > ($r->{promoted} // 0) + 1;

my @now = sort $t->worker_pids;
my @bad = $t->bad_log_lines;
printf "worker crashes: %d\n", scalar(@bad) + ("@now" ne "@workers");
$fail ||= @bad || "@now" ne "@workers";

$t->stop_nginx;
$c->stop;
print $fail ? "faults-cluster: FAILED\n" : "faults-cluster: clean\n";
exit($fail ? 1 : 0);
