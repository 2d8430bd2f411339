#!/usr/bin/perl
# hotkey-analyzer on a standalone instance, against real redis-servers:
#   - the task's keys equal the true top 100 by OBJECT FREQ over every key
#     of every database, computed here independently (LFU counters frozen:
#     lfu-decay-time 0, and lfu-log-factor 0 so that one read is one
#     step), with type, size, unit, db and shard, ties in the details
#     order, binary names intact and long names cut at 1024 bytes;
#   - the task record: running then success, started_at, finished_at, num,
#     attempts, owner; index and status sets; no queue entry, no lease;
#   - one log line per task; metrics and /healthz on the listener;
#   - with default pacing, the target's CPU share during the task stays
#     near the 10% budget (a loose sanity bound: make analyzer-bench
#     measures it);
#   - the create script: a second create while one is waiting is a
#     conflict; 100 records are kept, the oldest finished (and its keys)
#     dropped.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Hotkey::Test qw(uuid);
use Hotkey::Analyzer qw(:all);
use Time::HiRes qw(time sleep);

plan skip_all => 'hotkey-analyzer not built: make analyzer' unless analyzer_bin();
srand(4242);

my $store = Hotkey::Test->new;
$store->start_redis;
my $tgt = target(keys => 3000);
fill_target($tgt, keys => 700, db => 2, prefix => 'k');   # same names, db 2
fill_target($tgt, keys => 50, db => 5, prefix => 'five');

# names that are not plain: binary, separators, long ones
my @odd = ("bin\x00\xff\x01key", "pipe|in|name", "new\nline", "\xe2\x82\xac euro",
           'x' x 1500, ("\xe2\x82\xac" x 342) . 'z',
           ("\xfe" x 1100), '');
$tgt->redis_pipeline([ "SELECT", 0 ], map { [ "SET", $_, "v$_" ] } @odd);

# access counts: many ties, the cut of the top 100 falls inside a tie
my @hot;
push @hot, map { [ 0, "k:$_" ] } 1 .. 200;
push @hot, map { [ 2, "k:$_" ] } 1 .. 60;
push @hot, map { [ 5, "five:$_" ] } 1 .. 10;
for my $h (@hot) {
    touch($tgt, $h->[0], $h->[1], 1 + int(rand(30)));
}
touch($tgt, 0, $_, 100 + int(rand(50))) for @odd;
touch($tgt, 0, 'k:7', 300);                 # saturates at 255
touch($tgt, 2, 'k:7', 300);                 # same name and freq, db 2

my $iid = uuid();
register($store, $iid, $tgt->redis_port);
my $a = start_analyzer($store, args => ['--no-pacing']);

# ------------------------------------------------------------ correctness

my $snap = snapshot($tgt);
my $total = 0;
$total += $_ for $tgt->redis('INFO', 'keyspace') =~ /keys=(\d+)/g;
my $tid = create_task($store, $iid);
ok($tid, 'a task is created with the create script') or BAIL_OUT('no task');
my $t0 = time;
my $task = wait_task($store, $iid, $tid, qr/^(success|failed)$/, 60);
is($task->{status}, 'success', 'the task succeeds') or diag(analyzer_log($a));
my $keys = task_keys($store, $iid, $tid);
my $want = truth($snap);
is(scalar @$want, 100, 'the truth has 100 keys');
is_deeply($keys, $want, 'the keys are the true top 100, in the details order')
    or do {
        for my $i (0 .. 99) {
            next if ($keys->[$i] // '') eq ($want->[$i] // '');
            diag("first difference at $i:\n got  " . ($keys->[$i] // 'none')
                 . "\n want " . ($want->[$i] // 'none'));
            last;
        }
    };
is($task->{num}, 100, 'num 100');
like($task->{started_at} // '', qr/^\d{13}$/, 'started_at');
like($task->{finished_at} // '', qr/^\d{13}$/, 'finished_at');
cmp_ok($task->{finished_at} // 0, '>=', $task->{started_at} // 1, '... not before started_at');
is($task->{attempts}, 1, 'one attempt');
like($task->{owner} // '', qr/:\d+:[0-9a-f]{8}$/, 'owner: the analyzer');
my $p = "hotkey:{$iid}";
is($store->redis('ZSCORE', "$p:tasks:success", $tid), $task->{created_at}, 'in tasks:success');
is($store->redis('ZSCORE', "$p:tasks:running", $tid), undef, 'not in tasks:running');
is($store->redis('LLEN', "$p:queue"), 0, 'the queue is empty');
is($store->redis('EXISTS', "$p:lease:$tid"), 0, 'no lease left');
ok((grep { /^255\|0\|string\|\d+\|byte\|[^|]+\|k:7$/ } @$keys)
   && (grep { /^255\|2\|string\|\d+\|byte\|[^|]+\|k:7$/ } @$keys),
   'a saturated counter, same name in two dbs');
ok((grep { /\|bin\x00\xff\x01key$/ } @$keys), 'a binary name is intact');
ok((grep { /\|\Qpipe|in|name\E$/ } @$keys), 'a name with | is intact');
my ($long) = grep { /\|x+$/ } @$keys;
is(length((split /\|/, $long // '', 7)[6] // ''), 1024, 'a long name is cut at 1024 bytes');
my ($euro) = grep { /\xe2\x82\xac\xe2\x82\xac$/ } @$keys;
is(length((split /\|/, $euro // '', 7)[6] // ''), 1023, '... a UTF-8 one on a character boundary');
my ($fe) = grep { /\|\xfe+$/ } @$keys;
is(length((split /\|/, $fe // '', 7)[6] // ''), 1024, '... a binary one at 1024');
my %types = map { (split /\|/)[2] => 1 } @$keys;
ok($types{$_}, "a $_ among the hot keys") for qw(string list set zset hash stream);

my $log = analyzer_log($a);
my @lines = grep { /task \Q$tid\E instance/ } split /\n/, $log;
is(scalar @lines, 1, 'one log line for the task');
like($lines[0] // '', qr/\[info\] task \Q$tid\E instance \Q$iid\E scan_type=manual attempt=1 result=success keys_scanned=$total hot_keys=100 shards=1 duration=[\d.]+s pacing_waits=0 /,
     '... instance, keys scanned, duration, result') or diag($log);
diag(sprintf 'unpaced: %d keys in %.2f s', $total, time - $t0);

# ------------------------------------------------------------ metrics

my $m = http_get($a->{metrics}, '/metrics');
is($m->[0], 200, 'metrics: 200');
like($m->[1], qr/^hotkey_analyzer_tasks_total\{result="success"\} 1$/m, '... tasks by result');
like($m->[1], qr/^hotkey_analyzer_keys_scanned_total $total$/m, '... keys scanned');
like($m->[1], qr/^hotkey_analyzer_scan_seconds_count 1$/m, '... scan seconds');
like($m->[1], qr/^hotkey_analyzer_lease_losses_total 0$/m, '... lease losses');
like($m->[1], qr/^hotkey_analyzer_pacing_waits_total 0$/m, '... pacing waits');
is(http_get($a->{metrics}, '/healthz')->[1], "ok\n", '/healthz');
is(http_get($a->{metrics}, '/other')->[0], 404, 'other paths: 404');
stop_analyzer($a);
is($a->{status}, 0, 'SIGTERM when idle: exit 0');

# ------------------------------------------------------------ pacing

fill_target($tgt, keys => 60000, db => 1, prefix => 'bulk');
$a = start_analyzer($store, name => 'paced');
$snap = snapshot($tgt);
my ($cpu0, $w0) = (cpu($tgt), time);
$tid = create_task($store, $iid);
$task = wait_task($store, $iid, $tid, qr/^(success|failed)$/, 60);
my ($cpu1, $w1) = (cpu($tgt), time);
is($task->{status}, 'success', 'paced: success');
is_deeply(task_keys($store, $iid, $tid), truth($snap), 'paced: the true top 100');
my $share = ($cpu1 - $cpu0) / ($w1 - $w0);
diag(sprintf 'paced: the target used %.1f%% of a core over %.1f s', 100 * $share, $w1 - $w0);
cmp_ok($share, '<', 0.25, 'paced: the target stays far from busy (budget 10%)');
like(analyzer_log($a), qr/result=success .* pacing_waits=[1-9]/, 'paced: the log counts pacing waits');

# ------------------------------------------------------------ the create script

stop_analyzer($a);
my $w = create_task($store, $iid);
ok($w, 'create while idle');
my $out = `'@{[ analyzer_bin() ]}' --store 127.0.0.1:@{[ $store->redis_port ]} --create-task $iid 2>&1`;
isnt($? >> 8, 0, 'create while a task waits: refused');
like($store->redis('HGET', "$p:task:$w", 'status'), qr/^waiting$/, '... the waiting task');
is($store->redis('LRANGE', "$p:queue", 0, -1)->[0], $w, '... queued');

# retention: 100 records; the oldest finished goes, with its keys
$store->redis('DEL', "$p:queue");
$store->redis_pipeline([ 'ZREM', "$p:tasks:waiting", $w ],
                       [ 'HSET', "$p:task:$w", 'status', 'failed', 'finished_at', 1 ],
                       [ 'ZADD', "$p:tasks:failed", 1, $w ]);
my @old;
for my $i (1 .. 97) {
    my $id = uuid();
    push @old, $id;
    $store->redis_pipeline(
        [ 'HSET', "$p:task:$id", id => $id, status => 'success', scan_type => 'manual',
          created_at => 1000 + $i, started_at => 1001 + $i, finished_at => 1002 + $i ],
        [ 'ZADD', "$p:tasks", 1000 + $i, $id ], [ 'ZADD', "$p:tasks:success", 1000 + $i, $id ],
        [ 'RPUSH', "$p:task:$id:keys", "1|0|string|1|byte|x:1|k" ]);
}
is($store->redis('ZCARD', "$p:tasks"), 100, '100 records');
my $new = create_task($store, $iid);
ok($new, 'the 101st create succeeds');
is($store->redis('ZCARD', "$p:tasks"), 100, '... 100 records kept');
is($store->redis('EXISTS', "$p:task:$old[0]"), 0, '... the oldest finished record is gone');
is($store->redis('EXISTS', "$p:task:$old[0]:keys"), 0, '... with its keys');
is($store->redis('ZSCORE', "$p:tasks:success", $old[0]), undef, '... and its index entries');
is($store->redis('EXISTS', "$p:task:$old[1]"), 1, '... the next one stays');

$store->done;

sub cpu {
    my ($t) = @_;
    my $i = $t->redis('INFO', 'cpu');
    my ($s) = $i =~ /used_cpu_sys:([\d.]+)/;
    my ($u) = $i =~ /used_cpu_user:([\d.]+)/;
    return $s + $u;
}
