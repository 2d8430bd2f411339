#!/usr/bin/perl
# hotkey-analyzer when things go wrong, against real redis-servers (short
# leases so that it runs fast: 2 s, renewed every 0.5 s; "slow" analyzers
# pace at 2% of the target's CPU with small batches, so that a scan lasts
# long enough to hurt it mid-way):
#   - SIGKILLed mid-scan: the task goes back to waiting within the lease
#     time and another analyzer finishes it (attempt 2); past
#     --max-attempts it is failed instead;
#   - SIGTERM mid-scan: the task is handed back (waiting, queued, the take
#     not counted) and the analyzer exits 0; another one finishes it;
#   - two analyzers racing for each job: every task runs once;
#   - the store restarted mid-task: the task still succeeds; the store
#     down when a task waits: it runs once the store is back;
#   - the target switched to allkeys-lru mid-run: failed, the instance
#     recorded as not analysable (the next create is refused);
#   - the target killed mid-run, unreachable, wrong or missing password,
#     a replica, no address: failed with the cause in the log, the
#     analyzer carries on; a password never reaches the log or the store;
#   - the credentials file: readable by others is a warning, writable by
#     others a refusal to start;
#   - the schedule: with two analyzers, one auto task per due time, a
#     second due time while it waits is skipped; fired keys with a TTL.
# No task is left running.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Hotkey::Test qw(uuid free_port);
use Hotkey::Analyzer qw(:all);
use Time::HiRes qw(time sleep);
use POSIX qw(strftime);

plan skip_all => 'hotkey-analyzer not built: make analyzer' unless analyzer_bin();

my @fast = ('--no-pacing', '--lease-ms', 2000, '--renew-ms', 500);
my @slow = ('--cpu-share', '0.02', '--scan-count', 100, '--lease-ms', 2000,
            '--renew-ms', 500);

my $store = Hotkey::Test->new;
$store->start_redis;
my $tgt = target(keys => 20000);
touch($tgt, 0, "k:$_", 10 + $_) for 1 .. 5;
my $iid = uuid();
register($store, $iid, $tgt->redis_port);
my $p = "hotkey:{$iid}";
my @all_tasks;

sub running_now {
    my ($tid) = @_;
    return wait_task($store, $iid, $tid, qr/^running$/, 10)->{status} eq 'running';
}

sub done_task {
    my ($tid, $timeout) = @_;
    return wait_task($store, $iid, $tid, qr/^(success|failed)$/, $timeout // 30);
}

sub new_task {
    my $tid = create_task($store, $iid);
    push @all_tasks, $tid if $tid;
    return $tid;
}

# ------------------------------------------------------------ SIGKILL

my $a = start_analyzer($store, name => 'killed', args => \@slow);
my $tid = new_task();
ok(running_now($tid), 'kill: the task runs');
sleep 0.5;
stop_analyzer($a, 'KILL');
my $killed = time;
my $b = start_analyzer($store, name => 'rescuer', args => \@fast);
my $back = wait_until(10, sub { my $t = task($store, $iid, $tid);
                                ($t->{owner} // '') !~ /:$a->{cmd}[0]/ && ($t->{attempts} // 0) == 2 });
my $took = time - $killed;
ok($back, 'kill: another analyzer takes the task');
cmp_ok($took, '<', 2 + 1.5, sprintf('... within the lease time and a pass (%.1f s)', $took));
my $t = done_task($tid);
is($t->{status}, 'success', '... and finishes it');
is($t->{attempts}, 2, '... on the second attempt');
like(analyzer_log($b), qr/task \Q$tid\E instance \Q$iid\E: its analyzer stopped renewing the lease; back to waiting/,
     '... its log says why');
stop_analyzer($b);

# past --max-attempts: failed
$a = start_analyzer($store, name => 'killed2', args => \@slow);
$tid = new_task();
ok(running_now($tid), 'kill at the last attempt: the task runs');
stop_analyzer($a, 'KILL');
$b = start_analyzer($store, name => 'reaper', args => [ @fast, '--max-attempts', 1 ]);
$t = done_task($tid, 10);
is($t->{status}, 'failed', '... failed when no attempt is left');
ok($t->{finished_at}, '... with finished_at');
like(analyzer_log($b), qr/task \Q$tid\E .*failed \(no attempts left\)/, '... said in the log');
stop_analyzer($b);

# ------------------------------------------------------------ SIGTERM

$a = start_analyzer($store, name => 'termed', args => \@slow);
$tid = new_task();
ok(running_now($tid), 'SIGTERM: the task runs');
sleep 0.3;
stop_analyzer($a, 'TERM');
is($a->{status}, 0, '... the analyzer exits 0');
$t = task($store, $iid, $tid);
is($t->{status}, 'waiting', '... the task is handed back: waiting');
ok(!exists $t->{started_at}, '... without started_at');
is($t->{attempts}, 0, '... the take not counted');
is_deeply($store->redis('LRANGE', "$p:queue", 0, -1), [$tid], '... queued again');
is($store->redis('EXISTS', "$p:lease:$tid"), 0, '... no lease');
like(analyzer_log($a), qr/task \Q$tid\E .*result=handed_back/, '... the log line says so');
$b = start_analyzer($store, name => 'after-term', args => \@fast);
is(done_task($tid)->{status}, 'success', '... and another analyzer finishes it');
is(task($store, $iid, $tid)->{attempts}, 1, '... in one counted attempt');

# ------------------------------------------------------------ two analyzers

my $c = start_analyzer($store, name => 'racer', args => \@fast);
my @race;
for (1 .. 6) {
    my $r = new_task();
    push @race, $r;
    done_task($r);
}
my $logs = analyzer_log($b) . analyzer_log($c);
my $once = grep {
    my $r = $_;
    my @l = $logs =~ /(task \Q$r\E instance \S+ scan_type=\S+ attempt=\d+ result=\S+)/g;
    @l == 1 && $l[0] =~ /attempt=1 result=success/ && task($store, $iid, $r)->{attempts} == 1;
} @race;
is($once, 6, 'two analyzers: each of 6 tasks ran once');

# ------------------------------------------------------------ store restarts

stop_analyzer($c);
stop_analyzer($b);
$a = start_analyzer($store, name => 'store-restart', args => \@slow);
$tid = new_task();
ok(running_now($tid), 'store restart: the task runs');
$store->restart_redis;
$t = done_task($tid, 40);
is($t->{status}, 'success', '... and succeeds after the store came back') or diag(analyzer_log($a));
like(analyzer_log($a), qr/task store .* retrying/, '... the outage is in the log');
stop_analyzer($a);

# the store down while a task waits: delayed, not lost
$tid = new_task();
$store->stop_redis(save => 1);
$a = start_analyzer($store, name => 'store-down', args => \@fast);
sleep 1;
$store->start_redis;
is(done_task($tid)->{status}, 'success', 'store down: the waiting task runs once it is back');

# ------------------------------------------------------------ policy mid-run

stop_analyzer($a);
$a = start_analyzer($store, name => 'checks', args => \@slow);
$tid = new_task();
ok(running_now($tid), 'policy: the task runs');
$tgt->redis('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
$t = done_task($tid);
is($t->{status}, 'failed', '... switched to allkeys-lru mid-run: failed');
is($store->redis('HGET', "$p:instance", 'eviction_policy'), 'allkeys-lru',
   '... the instance is recorded as not analysable');
like(analyzer_log($a), qr/task \Q$tid\E .*result=failed .*cause=".*maxmemory-policy is allkeys-lru/,
     '... the cause in the log');
ok(!create_task($store, $iid), '... the next create is refused (not_analysable)');
$tgt->redis('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lfu');
$store->redis('HSET', "$p:instance", 'eviction_policy', 'allkeys-lfu');

# ------------------------------------------------------------ target killed

my $tgt2 = target(keys => 20000);
my $iid2 = uuid();
register($store, $iid2, $tgt2->redis_port);
my $tid2 = create_task($store, $iid2);
is(wait_task($store, $iid2, $tid2, qr/^running$/, 10)->{status}, 'running', 'target killed: the task runs');
$tgt2->kill_redis;
$t = wait_task($store, $iid2, $tid2, qr/^(success|failed)$/, 20);
is($t->{status}, 'failed', '... failed');
like(analyzer_log($a), qr/task \Q$tid2\E .*result=failed .*cause="127\.0\.0\.1:\d+: /,
     '... the cause in the log');
$tid = new_task();
is(done_task($tid)->{status}, 'success', '... the analyzer carries on with other work');
stop_analyzer($a);

# ------------------------------------------------------------ checks at start

my $secret = 'pa55-' . join '', map { ('a' .. 'z')[rand 26] } 1 .. 20;
my $locked = target(keys => 100);
$locked->redis('CONFIG', 'SET', 'requirepass', $secret);
my $lid = uuid();
register($store, $lid, $locked->redis_port);
my $creds = $store->prefix . '/analyzer-credentials';
sub write_creds {
    my ($text, $mode) = @_;
    open my $fh, '>', $creds or die $!;
    print $fh $text;
    close $fh;
    chmod $mode // 0600, $creds;
}
write_creds("# test\n$lid password=wrong-one\n");
$a = start_analyzer($store, name => 'creds', args => [ @fast, '--credentials', $creds ]);

sub task_on {
    my ($id) = @_;
    my $x = create_task($store, $id);
    my $r = wait_task($store, $id, $x, qr/^(success|failed)$/, 20);
    return ($x, $r->{status} // '');
}

my ($x, $st) = task_on($lid);
is($st, 'failed', 'wrong password: failed');
like(analyzer_log($a), qr/task \Q$x\E .*cause=".*authentication failed/, '... authentication failed, in the log');
write_creds("$lid user=default password=$secret\n");
($x, $st) = task_on($lid);
is($st, 'success', 'right password (file read again): success');
write_creds("# nobody\n");
($x, $st) = task_on($lid);
is($st, 'failed', 'no password: failed');
like(analyzer_log($a), qr/task \Q$x\E .*cause=".*NOAUTH/, '... NOAUTH in the log');

my $replica = target();
$replica->redis('REPLICAOF', '127.0.0.1', $tgt->redis_port);
my $rid = uuid();
register($store, $rid, $replica->redis_port);
($x, $st) = task_on($rid);
is($st, 'failed', 'a replica: failed');
like(analyzer_log($a), qr/task \Q$x\E .*cause=".* is a replica of 127\.0\.0\.1:\d+, not a master/, '... said in the log');

my $lru = Hotkey::Test->new;
$lru->start_redis(args => [ '--maxmemory-policy', 'allkeys-lru' ]);
my $uid = uuid();
register($store, $uid, $lru->redis_port);
($x, $st) = task_on($uid);
is($st, 'failed', 'an allkeys-lru instance: failed');
is($store->redis('HGET', "hotkey:{$uid}:instance", 'eviction_policy'), 'allkeys-lru', '... recorded');

my $gone = uuid();
register($store, $gone, free_port());
($x, $st) = task_on($gone);
is($st, 'failed', 'unreachable: failed');
like(analyzer_log($a), qr/task \Q$x\E .*cause=".*cannot connect/, '... cannot connect, in the log');

my $noaddr = uuid();
register($store, $noaddr, '127.0.0.1:1');
$store->redis('HDEL', "hotkey:{$noaddr}:instance", 'addr');
($x, $st) = task_on($noaddr);
is($st, 'failed', 'no addr: failed');
stop_analyzer($a);

my $dump = join '', map { ref $_ ? "@$_" : $_ // '' }
    map { my $k = $_; my $ty = $store->redis('TYPE', $k);
          $ty eq 'hash' ? $store->redis('HGETALL', $k)
        : $ty eq 'list' ? $store->redis('LRANGE', $k, 0, -1)
        : $ty eq 'string' ? $store->redis('GET', $k) : '' }
    @{ $store->redis('KEYS', '*') };
unlike($dump, qr/\Q$secret\E/, 'the password is nowhere in the store');
unlike(join('', map { analyzer_log({ log => $_ }) } glob($store->prefix . '/logs/analyzer-*')),
       qr/\Q$secret\E/, '... nor in any analyzer log');

write_creds("$lid password=$secret\n", 0644);
$a = start_analyzer($store, name => 'readable', args => [ @fast, '--credentials', $creds ]);
like(analyzer_log($a), qr/\[warn\] \Q$creds\E holds passwords and can be read by others/,
     'credentials readable by others: a warning');
stop_analyzer($a);
write_creds("$lid password=$secret\n", 0666);
$a = start_analyzer($store, name => 'writable', args => [ @fast, '--credentials', $creds ]);
wait_until(5, sub { waitpid($a->{pid}, POSIX::WNOHANG()) == $a->{pid} && do { $a->{status} = $?; delete $a->{pid}; 1 } });
ok(!$a->{pid} && ($a->{status} >> 8) == 1, 'writable by others: the analyzer refuses to start');
like(analyzer_log($a), qr/others than its owner can write it: refused/, '... and says why');

# ------------------------------------------------------------ the schedule

my $now = time;
my $m1 = strftime('%H:%M', gmtime($now - 60));
my $m2 = strftime('%H:%M', gmtime($now - 120));
my $m9 = strftime('%H:%M', gmtime($now + 3600));
my $sid = uuid();
register($store, $sid, $tgt->redis_port);
$store->redis('HSET', "hotkey:{$sid}:autoscan", enable_auto_scan => 1,
              schedule_at => join(',', sort($m1, $m2, $m9)), updated_at => 0);
$a = start_analyzer($store, name => 'sched-a', args => \@slow);
$b = start_analyzer($store, name => 'sched-b', args => \@slow);
my $fired = wait_until(10, sub { $store->redis('ZCARD', "hotkey:{$sid}:tasks") >= 1
                                 && @{ $store->redis('KEYS', "hotkey:{$sid}:fired:*") } >= 2 });
ok($fired, 'schedule: due times fire');
sleep 1;
my $ids = $store->redis('ZRANGE', "hotkey:{$sid}:tasks", 0, -1);
is(scalar @$ids, 1, '... one auto task for two due times (the second is skipped while it waits or runs)');
is(task($store, $sid, $ids->[0])->{scan_type}, 'auto', '... scan_type auto');
my @fk = sort @{ $store->redis('KEYS', "hotkey:{$sid}:fired:*") };
my $day = strftime('%Y%m%d', gmtime($now - 120));
(my $s2 = $m2) =~ s/://;
is($fk[0], "hotkey:{$sid}:fired:" . strftime('%Y%m%dT%H%M', gmtime($now - 120)), '... fired keys named by UTC time');
is(scalar @fk, 2, '... the later time not fired');
my $ttl = $store->redis('PTTL', $fk[0]);
ok($ttl > 47 * 3600 * 1000 && $ttl <= 48 * 3600 * 1000, '... with a TTL of 2 days');
is(wait_task($store, $sid, $ids->[0], qr/^(success|failed)$/, 30)->{status}, 'success', '... the auto task runs');
my $created = () = (analyzer_log($a) . analyzer_log($b)) =~ /auto task created/g;
is($created, 1, '... created by exactly one analyzer');
stop_analyzer($a);
stop_analyzer($b);

# ------------------------------------------------------------ the end

my $left = 0;
for my $i ($iid, $iid2, $lid, $rid, $uid, $gone, $noaddr, $sid) {
    $left += $store->redis('ZCARD', "hotkey:{$i}:tasks:running");
    $left += $store->redis('ZCARD', "hotkey:{$i}:tasks:waiting");
}
is($left, 0, 'no task left running or waiting');

$store->done;
