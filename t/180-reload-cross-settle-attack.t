#!/usr/bin/perl
# Through a reload the old and the new workers run side by side for
# 100 ms (t/179).  A leader wakes only the workers of its own cycle, and
# only its cycle's workers wait for it.  But two things settle a key they
# do not hold: a no-cache request that stores its answer, and a purge.
# Done by an old worker to a key a new worker leads, they took the new
# waiters off the entry and told them on the old cycle's side of the
# rings, through the old cycle's eventfds: nobody woke them, and the
# leader's own answer then found no waiter (or no entry) to wake.  The
# new workers' waiters sat out the whole lock time (6.9 s here).
#
# Now a key held by another cycle's leader keeps its waiters for that
# leader, and a purge leaves such an entry to it (its body gone, its
# answer not stored).  strace holds the master in its 100 ms sleep; two
# workers, old A0 A1 and new B0 B1:
#   B1 leads K (through a gate store), two requests of B0 wait for it;
#   A1 asks K with "Cache-Control: no-cache" (or purges the instance);
#   the gate opened: B1 answers and its waiters are answered at once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Attack qw(:all);

plan skip_all => 'no strace' if system('strace -V >/dev/null 2>&1') != 0;

my $pid = hex32();
my $iid = uuid();

my $t = Hotkey::Test->new(workers => 2);
$t->start_redis;
$t->add_instance($iid, project => $pid);
$t->add_tasks($iid, map { { status => 'success' } } 1 .. 5);
my $port = $t->nginx_port;
my $redis = $t->redis_port;
my $gate = $t->port('gate');
gate_store($t, 'gate');

my $loc = <<'LOC';
            hotkey_api on;
            hotkey_auth off;
            hotkey_store_connect_timeout 200ms;
            hotkey_store_send_timeout 200ms;
            hotkey_store_read_timeout 6s;
            hotkey_cache cross;
            hotkey_cache_valid 60s;
            hotkey_cache_bypass on;
LOC
$t->start_nginx(<<"CONF");
    hotkey_cache_zone cross:1m;
    server {
        listen 127.0.0.1:$port;
        keepalive_timeout 120s;
        location /x/ {
            rewrite ^/x(/.*)\$ \$1 break;
$loc            hotkey_store 127.0.0.1:$redis;
        }
        location /y/ {
            rewrite ^/y(/.*)\$ \$1 break;
$loc            hotkey_store 127.0.0.1:$gate;
            hotkey_store_subscribe off;     # the gate has one connection
        }
        location = /purge { hotkey_cache_purge cross; }
        location = /pid { return 200 "\$pid"; }
    }
CONF

my ($a0, $a1) = wait_workers($t);
my $ca1 = conn_to($t, $a1);
ok($ca1, "old workers A0 $a0, A1 $a1: a connection to A1");

my $st = hold_master($t);

SKIP: {
    skip 'no ptrace of the master', 5 unless $st;

    kill 'HUP', $t->master_pid;
    my ($b0, $b1) = new_workers($t, $a0, $a1);
    my @cb0 = map { conn_to($t, $b0) } 1 .. 2;
    my $cb1 = conn_to($t, $b1);
    ok(@cb0 == 2 && $cb1 && kill(0, $a0, $a1) == 2,
       "new workers B0 $b0, B1 $b1 beside the old ones");

    # B1 leads $key through the closed gate, B0 waits, A1 does $what
    my $round = sub {
        my ($name, $key, $what) = @_;
        unlink $t->prefix . '/logs/gate-gate.open';
        $cb1->send('GET', "/y$key");
        my $end = time + 5;
        sleep 0.05 until gate_held($t, 'gate') >= 1 || time > $end;
        $_->send('GET', "/y$key") for @cb0;
        sleep 0.3;
        my $r = $what->();
        is($r->{status}, 200, "$name by the old worker A1: 200")
            or diag(Hotkey::Test::_res_summary($r));
        my $t0 = time;
        gate_open($t, 'gate');
        my @rb = map { $_->recv(timeout => 9) } $cb1, @cb0;
        my $took = time - $t0;
        ok((grep { ($_->{status} // 0) == 200 } @rb) == 3 && $took < 1.5,
           sprintf("%s: B1's leader and B0's waiters answered %.2f s after "
                   . 'the gate opened (< 1.5; the lock ends 6.9 s after '
                   . 'they came)', $name, $took));
    };

    $round->('a no-cache request', $t->list_path($pid, $iid, 'limit=2'),
             sub { $ca1->ask('GET', '/x' . $t->list_path($pid, $iid,
                                                          'limit=2'),
                             ['Cache-Control', 'no-cache'], timeout => 3) });
    $round->('a purge', $t->list_path($pid, $iid, 'limit=3'),
             sub { $ca1->ask('POST', "/purge?instance_id=$iid", [],
                             timeout => 3) });
}

release_master($st);
my $end = time + 10;
sleep 0.1 while kill(0, $a0) && time < $end;
ok(!kill(0, $a0), 'the old workers left once the master went on');
is($t->get('/x' . $t->list_path($pid, $iid, 'limit=3'))->{status}, 200,
   'the key is asked again after the reload');
idle_check($t, 'the workers are idle afterwards');
$t->done;
