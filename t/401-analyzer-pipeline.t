#!/usr/bin/perl
# hotkey-analyzer's pipeline (analyzer/pipe.c: SCAN and OBJECT FREQ
# written and read on the socket, replies parsed in place), against real
# redis-servers with frozen LFU counters; each case is the true top 100:
#   - every key as cold as the next (the cut is all ties: the first names
#     win), and a cut inside a tie that spans two databases;
#   - names longer than the read buffer (100 KB hot, 70 KB cold), names
#     holding CRLF and reply-like bytes, the empty name;
#   - ten keys per batch (the least), and batches bigger than the read
#     buffer;
#   - keys expiring while they are scanned (OBJECT FREQ then answers nil).
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

my $flat = target(keys => 3000);
fill_target($flat, keys => 300, db => 3, prefix => 'z');

my $odd = target(keys => 4000);
fill_target($odd, keys => 400, db => 1, prefix => 'k');
touch($odd, 0, "k:$_", 1 + int(rand(8))) for 1 .. 300;
touch($odd, 1, "k:$_", 1 + int(rand(8))) for 1 .. 100;
my @names = ('h' x 100_000, 'c' x 70_000, "cr\r\nlf", "x\r\n:7\r\n\$-1\r\n",
             "*2\r\n", '-ERR not an error', '');
$odd->redis_pipeline([ 'SELECT', 0 ], map { [ 'SET', $_, 'v' ] } @names);
touch($odd, 0, $_, 20) for grep { !/^c+$/ } @names;

my $expiring = target(keys => 2000);
touch($expiring, 0, "k:$_", 1 + int(rand(20))) for 1 .. 150;

my %iid = map { $_ => uuid() } qw(flat odd expiring);
register($store, $iid{flat}, $flat->redis_port);
register($store, $iid{odd}, $odd->redis_port);
register($store, $iid{expiring}, $expiring->redis_port);

sub run_task {
    my ($name, $t) = @_;
    my $snap = snapshot($t);
    my $tid = create_task($store, $iid{$name});
    my $task = wait_task($store, $iid{$name}, $tid, qr/^(success|failed)$/, 60);
    return ($task, task_keys($store, $iid{$name}, $tid), truth($snap));
}

my $replyish = "x\r\n:7\r\n\$-1\r\n";
for my $count (1000, 10, 5000) {
    my $a = start_analyzer($store, name => "c$count",
                           args => [ '--no-pacing', '--scan-count', $count ]);
    my ($task, $keys, $want) = run_task('flat', $flat);
    is($task->{status}, 'success', "count $count, all ties: success")
        or diag(analyzer_log($a));
    is_deeply($keys, $want, '... the first names win');

    ($task, $keys, $want) = run_task('odd', $odd);
    is($task->{status}, 'success', "count $count, odd names: success")
        or diag(analyzer_log($a));
    is_deeply($keys, $want, '... the true top 100 (a tie over two dbs at the cut)');
    ok((grep { /\|h{1024}$/ } @$keys), '... a 100 KB name, cut at 1024 bytes');
    ok((grep { /\|\Q$replyish\E$/ } @$keys), '... reply-like bytes in a name');
    ok((grep { /\|$/ } @$keys), '... the empty name');
    stop_analyzer($a);
}

# keys that expire while the scan runs: 30,000 with 0.05 to 2 s to live;
# the scan (fifty keys per batch, paced at 50%) takes longer than that
my $snap = snapshot($expiring);
$expiring->redis_pipeline(map { [ 'SET', "e:$_", 'v', 'PX', 50 + int(rand(2000)) ] }
                          1 .. 30000);
my $a = start_analyzer($store, name => 'expiring',
                       args => [ '--cpu-share', '0.5', '--scan-count', 50 ]);
my $tid = create_task($store, $iid{expiring});
my $task = wait_task($store, $iid{expiring}, $tid, qr/^(success|failed)$/, 60);
is($task->{status}, 'success', 'keys expiring mid-scan: success') or diag(analyzer_log($a));
is_deeply(task_keys($store, $iid{expiring}, $tid), truth($snap),
          '... the true top 100 of the keys that stay');
stop_analyzer($a);

$store->done;
