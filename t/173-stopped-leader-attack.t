#!/usr/bin/perl
# The leader's worker stops or dies while others wait (issue 9: "a timer
# per waiter, set to the end of the holder's lock, covers a holder that
# died"), built on purpose: two workers; the store paused (SIGSTOP of
# redis-server); a leader in worker A, three waiters in worker B on one
# key; then worker A is
#  (a) stopped (SIGSTOP) and the store resumed: B's waiters take over
#      when the lock runs out (4.5 s here) and are answered with the
#      right list within the lock time + 2 s; A is continued (SIGCONT);
#  (b) killed (SIGKILL) and the store resumed: the same, and the master's
#      new worker answers.
# Both workers (the respawned one included) idle afterwards; no
# [alert]/[crit] beyond the kill's own "exited on signal 9".
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
$t->allow_log(qr/exited on signal 9/);
$t->start_redis;
$t->add_instance($iid, project => $pid);
my @tasks = $t->add_tasks($iid, map { { status => 'success' } } 1 .. 12);
my $port = $t->nginx_port;
my $redis = $t->redis_port;
$t->start_nginx(<<"CONF");
    hotkey_cache_zone sl:1m;
    upstream st {
        server 127.0.0.1:$redis;
    }
    server {
        listen 127.0.0.1:$port reuseport;
        keepalive_requests 10000;
        keepalive_timeout 120s;
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store st;
            hotkey_store_connect_timeout 1s;
            hotkey_store_send_timeout 1s;
            hotkey_store_read_timeout 2s;
            hotkey_cache sl;
            hotkey_cache_valid 60s;
        }
        location = /pid { return 200 "\$pid"; }
    }
CONF
my $lock = 4.5;

sub conns {
    my @w = wait_workers($t);
    my %by;
    for (1 .. 80) {
        my $c = Hotkey::Attack::Conn->new($t) or next;
        my $r = $c->ask('GET', '/pid', [], timeout => 3);
        push @{ $by{ $r->{body} // '' } }, $c;
        last if @{ $by{$w[0]} || [] } >= 1 && @{ $by{$w[1]} || [] } >= 3;
    }
    return ($w[0], $by{$w[0]}[0], $w[1], @{ $by{$w[1]} || [] }[0 .. 2]);
}

for my $sig (qw(STOP KILL)) {
    my $n = $sig eq 'STOP' ? '(a) leader worker stopped' : '(b) leader worker killed';
    my $q = $sig eq 'STOP' ? 'limit=3' : 'limit=4';
    my $exp = json_encode(expected_list($iid, \@tasks, limit => $sig eq 'STOP' ? 3 : 4));
    my ($A, $lc, $B, @wc) = conns();
    ok($lc && @wc == 3 && !grep({ !$_ } @wc), "$n: a connection to worker A, three to worker B");
    pause_store($t);
    $lc->send('GET', $t->list_path($pid, $iid, $q));
    sleep 0.2;
    $_->send('GET', $t->list_path($pid, $iid, $q)) for @wc;
    sleep 0.2;
    kill $sig, $A;
    my $t0 = time;
    resume_store($t);
    my @bad;
    for my $c (@wc) {
        my $left = $t0 + $lock + 2 - time;
        my $r = $c->recv(timeout => $left > 0.1 ? $left : 0.1);
        push @bad, Hotkey::Test::_res_summary($r)
            unless ($r->{status} // 0) == 200 && $r->{json} && json_encode($r->{json}) eq $exp;
    }
    ok(!@bad, sprintf('%s: the 3 waiters in worker B answered with the right list within %.1f s', $n, $lock + 2))
        or diag(join "\n", @bad);
    note(sprintf '%s: answered %.2fs after the signal', $n, time - $t0);
    kill 'CONT', $A if $sig eq 'STOP';
    $_->close for $lc, @wc;
}

my $r = $t->list($pid, $iid, 'limit=5');
is($r->{status}, 200, 'nginx answers afterwards');
idle_check($t, 'the workers are idle afterwards');
hard_stop($t);
$t->done;
