#!/usr/bin/perl
# Thousands of distinct keys waiting at once (issue 9, "Coalescing
# rebuilt"; design.md "Testing what breaks edge servers"): the CPU a
# wake-up costs must not grow with the number of keys waiting.
#
# Two workers, A and B (reuseport; a connection's worker is known by
# asking /pid over it).  A fake store (gate_store) holds every command.
# Over one HTTP/2 connection to A, N leaders, one per key (offset=i);
# once the store holds all N, over one HTTP/2 connection to B, N waiters,
# one per key.  The store then answers one command every 2 ms: each
# answer settles one key and wakes B once.
#
# Wanted: every request answered with the right list; B, which only wakes
# waiters and copies cached answers, uses no more CPU than a bound that
# grows linearly with N (1 s for 2000 keys here, A itself needs well under
# that for the 2000 store round trips).  A wake handler that walks every
# waiting group on each wake costs N x N lookups under the zone's mutex.
#
# HOTKEY_ATTACK_KEYS=n changes N (default 2000).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Attack qw(:all);

my $N = $ENV{HOTKEY_ATTACK_KEYS} || 3000;
my $pid = hex32();
my $iid = uuid();

my $t = Hotkey::Test->new(workers => 2);
$t->start_redis;
$t->add_instance($iid, project => $pid);
my @tasks = $t->add_tasks($iid, map { { status => 'success' } } 1 .. 5);
my $port = $t->nginx_port;
my $gate = gate_store($t, 'gate', pace => 0.001);
$t->write_conf(<<"CONF");
    hotkey_cache_zone many:32m;
    upstream st {
        server 127.0.0.1:$gate;
    }
    server {
        listen 127.0.0.1:$port reuseport http2;
        http2_max_concurrent_streams 20000;
        keepalive_requests 1000000;
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store st;
            hotkey_store_read_timeout 60s;
            hotkey_cache many;
            hotkey_cache_valid 120s;
        }
        location = /pid { return 200 "\$pid"; }
    }
CONF
set_worker_connections($t, 4 * $N + 100);
$t->start_nginx;

my @w = wait_workers($t);
is(scalar @w, 2, 'two workers');

my %by;
for (1 .. 60) {
    my $c = Hotkey::Attack::H2->new($t) or next;
    my $id = $c->get('/pid');
    $c->wait_done([$id], timeout => 3);
    my $p = $c->response($id)->{body} // '';
    $by{$p} //= $c;
    last if $by{$w[0]} && $by{$w[1]};
}
my ($A, $B) = ($by{$w[0]}, $by{$w[1]});
ok($A && $B, 'an HTTP/2 connection to each worker') or BAIL_OUT('no connections');

sub path { $t->list_path($pid, $iid, "limit=$_[1]&offset=$_[0]") }

# One round of $n keys (limit=$lim); returns B's CPU seconds per key
sub round {
    my ($n, $lim) = @_;
    my $name = "$n keys";
    unlink $t->prefix . '/logs/gate-gate.open';
    my @lead = map { $A->get(path($_, $lim)) } 1 .. $n;
    my $end = time + 30;
    while (gate_held($t, 'gate') < $n && time < $end) { $A->pump(timeout => 0.1) }
    is(gate_held($t, 'gate'), $n, "$name: the store holds the leaders' commands");

    my @wait = map { $B->get(path($_, $lim)) } 1 .. $n;
    $B->pump(timeout => 1);
    $A->pump(timeout => 0.1);
    my $early = grep { $B->response($_)->{done} } @wait;
    is($early, 0, "$name: the waiters wait");

    my %cpu0 = map { $_ => cpu_secs($_) } @w;
    my $t1 = time;
    gate_open($t, 'gate');
    $end = time + 90;
    my $all = sub { !grep { !$B->response($_)->{done} } @wait };
    while (time < $end) {
        $A->pump(timeout => 0.05);
        last if $B->pump(timeout => 0.05, until => $all) == 1
                && !grep { !$A->response($_)->{done} } @lead;
    }
    my $drain = time - $t1;
    my %cpu = map { $_ => cpu_secs($_) - $cpu0{$_} } @w;

    my @bad;
    for my $i (1 .. $n) {
        my $exp = json_encode(expected_list($iid, \@tasks, limit => $lim, offset => $i));
        for ([A => $A, $lead[$i - 1]], [B => $B, $wait[$i - 1]]) {
            my ($side, $c, $id) = @$_;
            my $r = $c->response($id);
            push @bad, "$side offset $i: " . ($r->{done} ? "status $r->{status}" : 'no answer')
                unless $r->{done} && ($r->{status} // '') eq '200' && $r->{json}
                       && json_encode($r->{json}) eq $exp;
        }
    }
    ok(!@bad, "$name: every leader and waiter answered with the right list")
        or diag(scalar(@bad) . " wrong:\n" . join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
    diag(sprintf "%s: drain %.2fs; CPU: A (leaders) %.2fs, B (waiters) %.2fs (%.3f ms a key)",
         $name, $drain, $cpu{$w[0]}, $cpu{$w[1]}, 1000 * $cpu{$w[1]} / $n);
    return ($cpu{$w[1]} / $n, $cpu{$w[0]} / $n);
}

my $small = int($N / 6) || 1;
my ($b1, $a1) = round($small, 2);
my ($b2, $a2) = round($N, 3);
# per key, B may cost somewhat more at N keys (caches, larger trees), not
# N / small times more
ok($b2 <= 2 * $b1 + 0.0002,
   sprintf('the CPU a woken key costs stays flat: %.3f ms a key with %d keys waiting, %.3f ms with %d (at most twice)',
           1000 * $b1, $small, 1000 * $b2, $N));

$A->close;
$B->close;
idle_check($t, 'the workers are idle afterwards');
hard_stop($t);
$t->done;
