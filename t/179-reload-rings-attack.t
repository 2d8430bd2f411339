#!/usr/bin/perl
# Through a reload the old and the new worker of a slot run side by side
# (nginx's master starts the new workers, sleeps 100 ms, then tells the
# old ones to quit).  Both read the slot's ring of settled tickets in the
# cache zone: an old worker woken then could take the tickets a new
# leader left for the new worker of its slot, whose waiters then sat out
# the whole lock time.  Each cycle now has its side of the rings.
#
# strace holds the master in that 100 ms sleep, so that the window stays
# open.  Two workers, old A0 A1 and new B0 B1; lock time 6.9 s:
#   B1 leads key K' (store paused), two requests of B0 wait for it
#   A1 leads key K (through a gate store), two requests of A0 wait for it
#   B0 stopped (SIGSTOP); the store resumed: B1 settles K' (ring of slot
#   0, B0's eventfd); the gate opened: A1 settles K, A0 is woken and reads
#   the ring of slot 0; B0 continued: its waiters are answered at once
#   (they were answered 6.9 s after they came).
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
            hotkey_cache rings;
            hotkey_cache_valid 60s;
LOC
$t->start_nginx(<<"CONF");
    hotkey_cache_zone rings:1m;
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
        location = /pid { return 200 "\$pid"; }
    }
CONF

my $kx = '/x' . $t->list_path($pid, $iid, 'limit=2');     # K', new cycle
my $ky = '/y' . $t->list_path($pid, $iid, 'limit=3');     # K, old cycle
is($t->get($t->list_path($pid, $iid, 'limit=1'))->{status}, 404,
   'no location but /x/ and /y/');

my ($a0, $a1) = wait_workers($t);
my @ca0 = map { conn_to($t, $a0) } 1 .. 2;
my $ca1 = conn_to($t, $a1);
ok(@ca0 == 2 && $ca1, "old workers A0 $a0, A1 $a1: connections to each");

# the master held in its sleep between starting the new workers and
# telling the old ones to quit
my $st = hold_master($t);

SKIP: {
    skip 'no ptrace of the master', 5 unless $st;

    kill 'HUP', $t->master_pid;
    my ($b0, $b1) = new_workers($t, $a0, $a1);
    my @cb0 = map { conn_to($t, $b0) } 1 .. 2;
    my $cb1 = conn_to($t, $b1);
    ok(@cb0 == 2 && $cb1 && kill(0, $a0, $a1) == 2,
       "new workers B0 $b0, B1 $b1 beside the old ones");

    pause_store($t);
    $cb1->send('GET', $kx);                 # B1 leads K'
    sleep 0.2;
    $_->send('GET', $kx) for @cb0;          # B0 waits for it
    $ca1->send('GET', $ky);                 # A1 leads K, held by the gate
    my $end = time + 5;
    sleep 0.05 until gate_held($t, 'gate') >= 1 || time > $end;
    $_->send('GET', $ky) for @ca0;          # A0 waits for it
    sleep 0.3;

    kill 'STOP', $b0;
    resume_store($t);                       # B1 settles K'
    my $r = $cb1->recv(timeout => 3);
    is($r->{status}, 200, "B1's leader answered")
        or diag(Hotkey::Test::_res_summary($r));
    gate_open($t, 'gate');                  # A1 settles K, A0 woken
    my @ra = map { $_->recv(timeout => 3) } $ca1, @ca0;
    is_deeply([ map { $_->{status} // 0 } @ra ], [200, 200, 200],
              'A1\'s leader and the two waiters of A0 answered')
        or diag($t->log_tail(10));

    my $t0 = time;
    kill 'CONT', $b0;
    my @rb = map { $_->recv(timeout => 8) } @cb0;
    my $took = time - $t0;
    ok((grep { ($_->{status} // 0) == 200 } @rb) == 2 && $took < 1.5,
       sprintf('the waiters of B0 answered %.2f s after it went on (< 1.5; '
               . 'the lock ends 6.9 s after they came)', $took));
}

release_master($st);
my $end = time + 10;
sleep 0.1 while kill(0, $a0) && time < $end;
ok(!kill(0, $a0), 'the old workers left once the master went on');
idle_check($t, 'the workers are idle afterwards');
$t->done;
