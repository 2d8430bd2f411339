#!/usr/bin/perl
# Two reloads in a row, the worker count changing each time (2 -> 1 -> 2),
# with waiters in flight in every cycle.  Three cycles run at once: A's
# workers are exiting but alive (their requests wait for the store), B's
# are still serving (strace holds the master in the second reload's
# 100 ms sleep) and C's are new.  A and C use the same side of the rings.
#
# A1 leads K and K3, A0 and A1 wait on both; reload: B0 takes K over and
# waits on it; reload: C1 takes K over from B, C takes K3 over from A,
# both of C's workers wait on K and K3.  The store held all along; once
# it answers, every request is answered within a second (none sits out
# the lock; B0's waiters, their key now C's, go once the master lets B
# quit), and afterwards the workers are idle.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Attack qw(:all);

my $pid = hex32();
my $iid = uuid();

my $t = Hotkey::Test->new(workers => 2);
$t->start_redis;
$t->add_instance($iid, project => $pid);
$t->add_tasks($iid, map { { status => 'success' } } 1 .. 5);
my $port = $t->nginx_port;
my $gate = $t->port('gate');
gate_store($t, 'gate');

my $http = <<"CONF";
    hotkey_cache_zone c:1m;
    server {
        listen 127.0.0.1:$port;
        keepalive_timeout 120s;
        location / {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store 127.0.0.1:$gate;
            hotkey_store_subscribe off;     # the gate has one connection
            hotkey_store_connect_timeout 200ms;
            hotkey_store_send_timeout 200ms;
            hotkey_store_read_timeout 60s;
            hotkey_cache c;
            hotkey_cache_valid 60s;
        }
        location = /pid { return 200 "\$pid"; }
    }
CONF
$t->start_nginx($http);

my $k = $t->list_path($pid, $iid, 'limit=2');
my $k3 = $t->list_path($pid, $iid, 'limit=3');
my @sent;
my $ask = sub {
    my ($pid, $name, $path) = @_;
    my $c = conn_to($t, $pid);
    $c->send('GET', $path);
    push @sent, [$c, $name];
};
my $held = sub {
    my ($n) = @_;
    my $end = time + 5;
    sleep 0.05 until gate_held($t, 'gate') >= $n || time > $end;
};
my $reload = sub {
    my ($n, @old) = @_;
    $t->{workers} = $n;
    $t->write_conf($http);
    kill 'HUP', $t->master_pid;
    return new_workers($t, @old);
};

my @A = wait_workers($t);
$ask->($A[1], 'A1 leads K', $k);
$held->(1);
$ask->($A[1], 'A1 leads K3', $k3);
$held->(2);
for my $i (0, 1) {
    $ask->($A[$i], "A$i waits on K", $k) for 1 .. 2;
    $ask->($A[$i], "A$i waits on K3", $k3);
}
sleep 0.3;

my @B = $reload->(1, @A);
is(scalar @B, 1, "old workers A0 A1 (@A), then one worker B0 (@B)");
$ask->($B[0], 'B0 takes K over', $k);
sleep 0.2;
$ask->($B[0], 'B0 waits on K', $k) for 1 .. 2;
sleep 0.3;

my $st = hold_master($t);

SKIP: {
    skip 'no ptrace of the master', 2 unless $st;

    my @C = $reload->(2, @A, @B);
    ok(@C == 2 && kill(0, @A, @B) == 3,
       "new workers C0 C1 (@C) beside the exiting A0 A1 and B0");
    $ask->($C[1], 'C1 takes K over', $k);
    sleep 0.2;
    for my $i (0, 1) {
        $ask->($C[$i], "C$i waits on K", $k) for 1 .. 2;
        $ask->($C[$i], "C$i on K3", $k3);
    }
    sleep 0.3;

    my $t0 = time;
    gate_open($t, 'gate');
    sleep 0.3;
    release_master($st);

    my (@bad, $max);
    $max = 0;
    for my $s (@sent) {
        my $r = $s->[0]->recv(timeout => 10);
        my $took = time - $t0;
        $max = $took if $took > $max;
        push @bad, sprintf('%s: %s after %.2f s', $s->[1],
                           $r->{status} // 'no answer', $took)
            if ($r->{status} // 0) != 200 || $took > 1.5;
    }
    ok(!@bad, sprintf('%d requests of three cycles answered, the last '
                      . '%.2f s after the store did (< 1.5)',
                      scalar @sent, $max))
        or diag(join "\n", @bad);
}

release_master($st);
my $end = time + 10;
sleep 0.1 while kill(0, @A, @B) && time < $end;
ok(!kill(0, @A, @B), 'the old workers left');
idle_check($t, 'the workers are idle afterwards');
$t->done;
