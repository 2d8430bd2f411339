#!/usr/bin/perl
# Wake-ups of coalesced waiters must reach the right process (issue 9,
# item 5), built on purpose:
#
#  (a) proxy_cache_path beside the module starts nginx's cache manager and
#      cache loader.  A leader in worker 1 and waiters in worker 0 (and one
#      in worker 1) on one key while the store is paused (SIGSTOP); the
#      store resumes: every waiter is answered within 2 s (the lock time
#      is 32.5 s here).  Several rounds, one key each.
#  (b) worker_processes 66 (more than 64 per-worker slots): waiters in
#      workers 64 and 65, the leader elsewhere, then the leader in worker
#      64: every request of the coalesced miss is answered within 3 s.
#
# HOTKEY_ATTACK_CONTROL=1 leaves proxy_cache_path out of (a), to check
# the harness against a module that has the bug.
#
# Which worker serves a request is known: the listening socket has
# reuseport, keepalive connections are opened and asked for /pid (nginx's
# $pid), and the workers are ordered as the master spawned them.
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

sub conf {
    my ($t, $extra) = @_;
    my $port = $t->nginx_port;
    my $redis = $t->redis_port;
    return <<"EOF";
    $extra
    hotkey_cache_zone wk:1m;
    upstream st {
        server 127.0.0.1:$redis;
        keepalive 4;
    }
    server {
        listen 127.0.0.1:$port reuseport;
        keepalive_requests 10000;
        keepalive_timeout 120s;
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store st;
            hotkey_store_read_timeout 30s;
            hotkey_cache wk;
            hotkey_cache_valid 60s;
        }
        location = /pid { return 200 "\$pid"; }
    }
EOF
}

# Opens connections until $want->(\%by_index) is true (or $max of them);
# returns { worker index => [ conns ] }.
sub conns_by_worker {
    my ($t, $max, $want) = @_;
    my @w = wait_workers($t);
    my %idx = map { $w[$_] => $_ } 0 .. $#w;
    my %by;
    for (1 .. $max) {
        my $c = Hotkey::Attack::Conn->new($t) or next;
        my $r = $c->ask('GET', '/pid', [], timeout => 3);
        my $p = $r->{body} // '';
        next unless ($r->{status} // 0) == 200 && exists $idx{$p};
        push @{ $by{ $idx{$p} } }, $c;
        last if $want->(\%by);
    }
    return \%by;
}

# One coalesced miss: the leader's request, then the waiters', the store
# paused meanwhile; returns the list of problems (empty: all answered in
# time, 200, right JSON).
sub coalesced_round {
    my ($t, $q, $exp, $limit, $leader, @waiters) = @_;
    pause_store($t);
    $leader->[1]->send('GET', $t->list_path($pid, $iid, $q));
    sleep 0.15;
    $_->[1]->send('GET', $t->list_path($pid, $iid, $q)) for @waiters;
    sleep 0.25;
    resume_store($t);
    my $t0 = time;
    my @bad;
    for ($leader, @waiters) {
        my ($label, $c) = @$_;
        my $left = $t0 + $limit - time;
        my $r = $c->recv(timeout => $left > 0.1 ? $left : 0.1);
        if (!defined $r->{status}) {
            push @bad, "$label: no answer within ${limit}s of the resume";
        } elsif ($r->{status} != 200 || !$r->{json}
                 || json_encode($r->{json}) ne json_encode($exp)) {
            push @bad, "$label: " . Hotkey::Test::_res_summary($r);
        } else {
            note(sprintf '%s: 200 %s (read %.2fs after the resume)', $label,
                 $r->{headers}{'x-cache-status'} // '-', $r->{done_at} - $t0);
        }
    }
    return @bad;
}

# ------------------------------------------------ (a) proxy_cache_path
{
    my $n = 'proxy_cache_path';
    my $t = Hotkey::Test->new(workers => 2);
    $t->allow_log(qr/exited on signal 9/);
    $t->start_redis;
    $t->add_instance($iid, project => $pid);
    my @tasks = $t->add_tasks($iid, map { { status => 'success' } } 1 .. 12);
    my $P = $t->prefix;
    $t->start_nginx(conf($t, $ENV{HOTKEY_ATTACK_CONTROL} ? ''
        : "proxy_cache_path $P/tmp/pcache levels=1 keys_zone=pcache:1m;"));
    # the cache manager and loader are forked after the workers
    my @all = $t->worker_pids;
    for (1 .. 40) {
        last if @all >= 3;
        sleep 0.05;
        @all = $t->worker_pids;
    }
    ok(@all >= 3 || $ENV{HOTKEY_ATTACK_CONTROL}, "$n: nginx runs a cache manager/loader beside the 2 workers (" . scalar(@all) . ' children)');
    my $by = conns_by_worker($t, 80, sub { @{ $_[0]{0} || [] } >= 12 && @{ $_[0]{1} || [] } >= 8 });
    my ($n0, $n1) = (scalar @{ $by->{0} || [] }, scalar @{ $by->{1} || [] });
    ok($n0 >= 12 && $n1 >= 8, "$n: connections to worker 0 ($n0) and worker 1 ($n1)");
    my @bad;
    my $rounds = 0;
    for my $round (1 .. 4) {
        last if @{ $by->{0} || [] } < 3 || @{ $by->{1} || [] } < 2;
        my @w0 = splice @{ $by->{0} }, 0, 3;
        my @w1 = splice @{ $by->{1} }, 0, 2;
        my $q = 'limit=' . (2 + $round);
        @bad = coalesced_round($t, $q, expected_list($iid, \@tasks, limit => 2 + $round), 2,
                               [ 'leader (worker 1)' => $w1[0] ],
                               (map { [ "waiter $_ (worker 0)" => $w0[$_ - 1] ] } 1 .. 3),
                               [ 'waiter (worker 1)' => $w1[1] ]);
        $rounds++;
        push @{ $by->{0} }, @w0;
        push @{ $by->{1} }, @w1;
        if (@bad) { diag("round $round:"); last }
    }
    ok(!@bad && $rounds == 4,
       "$n: $rounds rounds: leader in worker 1, waiters in workers 0 and 1: all answered within 2 s of the resume")
        or diag(join "\n", @bad);
    idle_check($t, "$n: the workers are idle afterwards");
    hard_stop($t);
    $t->done(no_done_testing => 1);
}

# ------------------------------------------------ (b) 66 workers
{
    my $n = '66 workers';
    my $t = Hotkey::Test->new(workers => 66);
    $t->allow_log(qr/exited on signal 9/);
    $t->start_redis;
    $t->add_instance($iid, project => $pid);
    my @tasks = $t->add_tasks($iid, map { { status => 'success' } } 1 .. 12);
    $t->start_nginx(conf($t, ''));
    my @w = wait_workers($t);
    is(scalar(@w), 66, "$n: nginx runs 66 workers");
    my $by = conns_by_worker($t, 1500, sub {
        my $h = shift;
        return @{ $h->{64} || [] } >= 2 && @{ $h->{65} || [] } >= 1
               && (grep { $_ < 64 && @{ $h->{$_} } >= 1 } keys %$h) >= 3;
    });
    my @low = map { $by->{$_}[0] } grep { $_ < 64 } sort { $a <=> $b } keys %$by;
    ok(@{ $by->{64} || [] } >= 2 && @{ $by->{65} || [] } >= 1 && @low >= 3,
       "$n: connections to workers 64 and 65 and others");
    SKIP: {
        skip 'no connections to workers 64/65', 2 unless @{ $by->{64} || [] } >= 2 && $by->{65} && @low >= 3;
        my @bad = coalesced_round($t, 'limit=7', expected_list($iid, \@tasks, limit => 7), 3,
                                  [ 'leader (a worker below 64)' => $low[0] ],
                                  [ 'waiter (worker 64)' => $by->{64}[0] ],
                                  [ 'waiter (worker 65)' => $by->{65}[0] ],
                                  [ 'waiter (a worker below 64)' => $low[1] ]);
        ok(!@bad, "$n: leader below 64, waiters in workers 64 and 65: all answered within 3 s")
            or diag(join "\n", @bad);
        @bad = coalesced_round($t, 'limit=8', expected_list($iid, \@tasks, limit => 8), 3,
                               [ 'leader (worker 64)' => $by->{64}[1] ],
                               [ 'waiter (a worker below 64)' => $low[2] ]);
        ok(!@bad, "$n: leader in worker 64, a waiter below 64: all answered within 3 s")
            or diag(join "\n", @bad);
    }
    hard_stop($t);
    $t->done(no_done_testing => 1);
}

done_testing();
