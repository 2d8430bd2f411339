#!/usr/bin/perl
# Coalescing over HTTP/2 (issue 9: "a client that closes during each
# phase"; design.md "Testing what breaks edge servers"), built on purpose
# with a hand-written h2c client (Hotkey::Attack::H2), one worker, the
# store paused (SIGSTOP of redis-server) so the order is certain:
#
#  (a) one connection: a leader stream and 10 waiter streams on one key;
#      the leader's stream is reset (RST_STREAM); the store resumes: every
#      waiter gets the right 200 within 3 s (the lock time is 32.5 s).
#  (b) connection X holds a leader and 10 waiters on one key, connection Y
#      5 waiters on it; X is closed (RST) while they wait; the store
#      resumes: Y's waiters are answered within 3 s.
#  (c) waiter streams reset while waiting (every other one), then the
#      leader's answer: the others get 200.
#  (d) the leader's connection closes during the wake: leader and 30
#      waiters on connection X, 10 more waiters on Y; the store resumes
#      and X is reset at once, 15 rounds: Y's waiters all answered.
# After each: the worker is the same process (no crash) and answers; at
# the end it is idle, and the log has no [alert]/[crit] and no "exited on
# signal".  Under AddressSanitizer: scripts/sanitize.sh t/170-h2-attack.t.
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

my $t = Hotkey::Test->new(workers => 1);
$t->start_redis;
$t->add_instance($iid, project => $pid);
my @tasks = $t->add_tasks($iid, map { { status => 'success' } } 1 .. 30);
my $port = $t->nginx_port;
my $redis = $t->redis_port;
$t->start_nginx(<<"CONF");
    hotkey_cache_zone h2z:4m;
    upstream st {
        server 127.0.0.1:$redis;
        keepalive 4;
    }
    server {
        listen 127.0.0.1:$port http2;
        http2_max_concurrent_streams 1024;
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store st;
            hotkey_store_read_timeout 30s;
            hotkey_cache h2z;
            hotkey_cache_valid 60s;
        }
        location = /pid { return 200 "\$pid"; }
    }
CONF

my ($worker) = wait_workers($t);
ok($worker, "one worker ($worker)");

sub path { $t->list_path($pid, $iid, $_[0]) }

sub check_answers {
    my ($name, $c, $ids, $exp, $limit) = @_;
    my @left = $c->wait_done($ids, timeout => $limit);
    my @bad;
    push @bad, map { "stream $_: no answer within ${limit}s" } @left;
    for my $id (@$ids) {
        my $r = $c->response($id);
        next unless $r->{done};
        push @bad, "stream $id: status " . ($r->{status} // '-') . ', body '
                   . substr($r->{body}, 0, 200)
            unless ($r->{status} // '') eq '200' && $r->{json}
                   && json_encode($r->{json}) eq json_encode($exp);
    }
    ok(!@bad, "$name: all " . scalar(@$ids)
              . " answered 200 with the right list within ${limit}s")
        or diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
}

sub still_alive {
    my ($name) = @_;
    my @w = wait_workers($t);
    is_deeply(\@w, [$worker], "$name: the worker is the same process");
    my $c = Hotkey::Attack::H2->new($t);
    my $id = $c->get('/pid');
    $c->wait_done([$id], timeout => 3);
    is($c->response($id)->{body}, $worker, "$name: the worker answers over h2");
    $c->close;
}

# ------------------------------------------------------------ smoke
{
    my $c = Hotkey::Attack::H2->new($t);
    my $id = $c->get(path('limit=2'));
    check_answers('smoke', $c, [$id], expected_list($iid, \@tasks, limit => 2), 5);
    $c->close;
}

# ------------------------------------------------------------ (a)
{
    my $n = '(a) leader stream reset';
    my $c = Hotkey::Attack::H2->new($t);
    pause_store($t);
    my $lead = $c->get(path('limit=3'));
    $c->pump(timeout => 0.2);
    my @w = map { $c->get(path('limit=3')) } 1 .. 10;
    $c->pump(timeout => 0.3);
    $c->rst($lead);
    $c->pump(timeout => 0.3);
    resume_store($t);
    check_answers($n, $c, \@w, expected_list($iid, \@tasks, limit => 3), 3);
    $c->close;
    still_alive($n);
}

# ------------------------------------------------------------ (b)
{
    my $n = '(b) the connection of the leader and 10 waiters closed';
    my $x = Hotkey::Attack::H2->new($t);
    my $y = Hotkey::Attack::H2->new($t);
    pause_store($t);
    $x->get(path('limit=4'));
    $x->pump(timeout => 0.2);
    $x->get(path('limit=4')) for 1 .. 10;
    my @w = map { $y->get(path('limit=4')) } 1 .. 5;
    $y->pump(timeout => 0.3);
    $x->reset;
    sleep 0.3;
    resume_store($t);
    check_answers($n, $y, \@w, expected_list($iid, \@tasks, limit => 4), 3);
    $y->close;
    still_alive($n);
}

# ------------------------------------------------------------ (c)
{
    my $n = '(c) waiter streams reset while waiting';
    my $c = Hotkey::Attack::H2->new($t);
    pause_store($t);
    my $lead = $c->get(path('limit=5'));
    $c->pump(timeout => 0.2);
    my @w = map { $c->get(path('limit=5')) } 1 .. 20;
    $c->pump(timeout => 0.3);
    my @gone = @w[grep { $_ % 2 } 0 .. $#w];
    my @kept = @w[grep { !($_ % 2) } 0 .. $#w];
    $c->rst($_) for @gone;
    $c->pump(timeout => 0.3);
    resume_store($t);
    check_answers($n, $c, [$lead, @kept], expected_list($iid, \@tasks, limit => 5), 3);
    $c->close;
    still_alive($n);
}

# ------------------------------------------------------------ (d)
{
    my $n = '(d) the leader\'s connection reset as the store resumes';
    my @bad;
    for my $round (1 .. 15) {
        my $lim = 5 + $round % 10;
        my $q = "limit=$lim&offset=$round";
        my $x = Hotkey::Attack::H2->new($t);
        my $y = Hotkey::Attack::H2->new($t);
        pause_store($t);
        $x->get(path($q));
        $x->pump(timeout => 0.1);
        $x->get(path($q)) for 1 .. 30;
        my @w = map { $y->get(path($q)) } 1 .. 10;
        $y->pump(timeout => 0.15);
        resume_store($t);
        sleep 0.001 * ($round % 5);
        $x->reset;
        my @left = $y->wait_done(\@w, timeout => 3);
        my $exp = json_encode(expected_list($iid, \@tasks, limit => $lim,
                                            offset => $round));
        push @bad, "round $round: " . scalar(@left) . ' unanswered' if @left;
        for my $id (@w) {
            my $r = $y->response($id);
            next unless $r->{done};
            push @bad, "round $round: stream $id: " . ($r->{status} // '-')
                unless ($r->{status} // '') eq '200' && $r->{json}
                       && json_encode($r->{json}) eq $exp;
        }
        $y->close;
        last if @bad || !Hotkey::Test::_alive($worker);
    }
    ok(!@bad, "$n: 15 rounds, the other connection's waiters all answered")
        or diag(join "\n", @bad);
    still_alive($n);
}

idle_check($t, 'the worker is idle afterwards');
hard_stop($t);
$t->done;
