#!/usr/bin/perl
# hotkey-analyzer's two ways of reading a batch, against real
# redis-servers (LFU counters frozen):
#   - the batch script (analyzer/lua/batch.lua: SCAN and OBJECT FREQ in
#     one EVALSHA, only keys that may enter the top sent back): the true
#     top 100 when the cut falls inside a tie that spans databases, and
#     when every key has the same freq (the tie filter does all the work);
#     the instance runs one script call per batch, no OBJECT FREQ from the
#     analyzer itself;
#   - an instance that refuses scripts (EVAL and EVALSHA renamed away):
#     the pipeline of OBJECT FREQ instead, unpaced and paced, the same true
#     top 100, one log line saying so; the policy switched mid-run still
#     fails the task with its cause.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Hotkey::Test qw(uuid);
use Hotkey::Analyzer qw(:all);
use Time::HiRes qw(time sleep);

plan skip_all => 'hotkey-analyzer not built: make analyzer' unless analyzer_bin();
srand(1401);

my $store = Hotkey::Test->new;
$store->start_redis;

my @noscript = ('--rename-command', 'EVAL', '', '--rename-command', 'EVALSHA', '');
my $scripted = target(keys => 4000);
my $piped = target(keys => 4000, args => \@noscript);
my $flat = target(keys => 3000);
fill_target($flat, keys => 300, db => 3, prefix => 'z');

# the same accesses on both: ties at the cut, across dbs 0 and 1
for my $t ($scripted, $piped) {
    fill_target($t, keys => 400, db => 1, prefix => 'k');
    srand(1401);
    touch($t, 0, "k:$_", 1 + int(rand(8))) for 1 .. 300;
    touch($t, 1, "k:$_", 1 + int(rand(8))) for 1 .. 100;
}

my %iid = map { $_ => uuid() } qw(scripted piped flat);
register($store, $iid{scripted}, $scripted->redis_port);
register($store, $iid{piped}, $piped->redis_port);
register($store, $iid{flat}, $flat->redis_port);

sub run_task {
    my ($name, $t) = @_;
    my $snap = snapshot($t);
    my $tid = create_task($store, $iid{$name});
    my $task = wait_task($store, $iid{$name}, $tid, qr/^(success|failed)$/, 60);
    return ($task, task_keys($store, $iid{$name}, $tid), truth($snap));
}

sub calls {
    my ($t, $cmd) = @_;
    my ($n) = $t->redis('INFO', 'commandstats') =~ /^cmdstat_\Q$cmd\E:calls=(\d+)/m;
    return $n // 0;
}

my $a = start_analyzer($store, args => ['--no-pacing', '--scan-count', 200]);

# ------------------------------------------------------------ the script

$scripted->redis('CONFIG', 'RESETSTAT');
my ($task, $keys, $want) = run_task('scripted', $scripted);
is($task->{status}, 'success', 'script: success') or diag(analyzer_log($a));
is_deeply($keys, $want, 'script: the true top 100 (the cut inside a tie over two dbs)');
cmp_ok(calls($scripted, 'evalsha') + calls($scripted, 'eval'), '>=', 20,
       '... one script call per batch');
my $freqs = $scripted->redis('INFO', 'commandstats') =~ /^cmdstat_object\|freq:calls=(\d+)/m
            ? $1 : 0;
cmp_ok($freqs, '>=', 4400, '... OBJECT FREQ of every key, called by the script');

($task, $keys, $want) = run_task('flat', $flat);
is($task->{status}, 'success', 'flat: success');
is_deeply($keys, $want, 'flat: every key as cold as the next: the first names win');
unlike(analyzer_log($a), qr/scanning with a pipeline/, 'no pipeline where scripts run');

# ------------------------------------------------------------ no scripts

($task, $keys, $want) = run_task('piped', $piped);
is($task->{status}, 'success', 'scripts refused: success') or diag(analyzer_log($a));
is_deeply($keys, $want, '... the true top 100 by the pipeline');
my @said = analyzer_log($a) =~ /(127\.0\.0\.1:\d+: the batch script was refused .*scanning with a pipeline)/g;
is(scalar @said, 1, '... said once for the node (two dbs)') or diag(analyzer_log($a));
cmp_ok(calls($piped, 'object|freq'), '>=', 4400, '... OBJECT FREQ of every key');
stop_analyzer($a);

$a = start_analyzer($store, name => 'paced');
($task, $keys, $want) = run_task('piped', $piped);
is($task->{status}, 'success', 'scripts refused, paced: success');
is_deeply($keys, $want, '... the true top 100');
like(analyzer_log($a), qr/result=success .* pacing_waits=[1-9]/, '... paced');
stop_analyzer($a);

# the policy switched mid-run, under the pipeline
fill_target($piped, keys => 20000, db => 2, prefix => 'bulk');
$a = start_analyzer($store, name => 'slow',
                    args => [ '--cpu-share', '0.02', '--scan-count', 100 ]);
my $tid = create_task($store, $iid{piped});
is(wait_task($store, $iid{piped}, $tid, qr/^running$/, 10)->{status}, 'running',
   'policy: the task runs');
sleep 0.5;
$piped->redis('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
$task = wait_task($store, $iid{piped}, $tid, qr/^(success|failed)$/, 30);
is($task->{status}, 'failed', '... switched to allkeys-lru mid-run: failed');
like(analyzer_log($a), qr/task \Q$tid\E .*result=failed .*cause=".*maxmemory-policy is allkeys-lru/,
     '... the cause in the log');
stop_analyzer($a);

$store->done;
