#!/usr/bin/perl
# The smaller failures of issue 9 (item 7, the parts that are not about
# authentication), each built on purpose:
#
#  (a) RateLimit r= never underflows: two locations with different bursts
#      on one zone (exhaust the bigger burst, then ask the smaller), and a
#      token whose burst claim is below the bucket's excess.
#  (b) burst= has an upper bound: burst=1000001 is refused by nginx -t with
#      a message naming burst, burst=1000000 is accepted.
#  (c) a store reply followed by extra bytes (a fake store appends them to
#      the real Redis reply) is ONE 500 DCS.5000, with at most one
#      X-Cache-Status, and is not cached: the next request asks the store.
#  (d) an early exit does not keep the coalescing lock: a stale answer
#      (stale-while-revalidate) whose leader cannot send it, because its
#      client reset the connection (the worker is held with SIGSTOP while
#      the request and the RST arrive, so the order is certain).  Once the
#      stale window is over, the next request for the key must not wait
#      for the lock time (12.5 s here).
#
# HOTKEY_ATTACK_CONTROL=1 runs (d) without the reset, to check the harness
# against a module that has the bug.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Limits qw(auth_files mint_token);
use Hotkey::Attack qw(:all);

plan skip_all => 'hotkeyctl not built (make cli)'
    unless -x Hotkey::Test::build_file('hotkeyctl');

my $t = Hotkey::Test->new(workers => 1);
$t->allow_log(qr/exited on signal 9/);
$t->start_redis;
my $P = $t->prefix;
my $redis = $t->redis_port;
my $pid = hex32();
my $iid = uuid();
$t->add_instance($iid, project => $pid);
my @tasks = $t->add_tasks($iid, map { { status => 'success' } } 1 .. 6);
my $auth = auth_files($t);

my %port = (big => $t->nginx_port);
$port{$_} = $t->port($_) for qw(small junk stale);
my $junk = junk_store($t, 'junkstore', "+OK\r\n");

sub api_loc {
    my ($extra) = @_;
    return <<"EOF";
        location /v2/ {
            hotkey_api on;
            hotkey_store st;
            hotkey_auth_token_keys $auth->{secret};
$extra
        }
EOF
}

my $conf = <<"EOF";
    hotkey_rate_limit_zone rl:1m;
    hotkey_cache_zone jc:1m;
    hotkey_cache_zone sc:1m;
    upstream st {
        server 127.0.0.1:$redis;
        keepalive 8;
    }
    upstream junk {
        server 127.0.0.1:$junk;
    }
    server {
        listen 127.0.0.1:$port{big};
@{[ api_loc('            hotkey_rate_limit rl rate=1r/m burst=10;') ]}
    }
    server {
        listen 127.0.0.1:$port{small};
@{[ api_loc('            hotkey_rate_limit rl rate=1r/m burst=2;') ]}
    }
    server {
        listen 127.0.0.1:$port{junk};
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store junk;
            hotkey_cache jc;
            hotkey_cache_valid 60s;
        }
    }
    server {
        listen 127.0.0.1:$port{stale};
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store st;
            hotkey_store_read_timeout 10s;
            hotkey_cache sc;
            hotkey_cache_valid 1s;
            hotkey_cache_stale_while_revalidate 1s;
        }
    }
EOF
$t->wait_ports(map { $port{$_} } qw(small junk stale));
$t->start_nginx($conf);

my $path = $t->list_path($pid, $iid, 'limit=2');
sub tget {
    my ($jwt, $srv) = @_;
    return $t->request('GET', $path, [ 'X-Auth-Token' => $jwt ], undef,
                       port => $port{$srv}, timeout => 3);
}
sub tok { mint_token($t, project => $pid, actions => 'dcs:instance:listHotKey', @_) }
sub rl { $_[0]{headers}{ratelimit} // '(none)' }

# ------------------------------------------------ (a) RateLimit r= underflow
{
    my $n = 'r= underflow';
    my $jwt = tok(sub => 'under');
    my @st = map { tget($jwt, 'big')->{status} } 1 .. 11;
    is("@st", join(' ', ('200') x 10, '429'), "$n: burst 10 spent on the first location");
    my $r = tget($jwt, 'small');
    is($r->{status}, 429, "$n: the burst-2 location on the same zone: 429");
    my ($rem) = rl($r) =~ /;r=(\d+)/;
    ok(defined $rem && $rem <= 2, "$n: RateLimit r= is 0..2 (got " . rl($r) . ')');
    my $ra = $r->{headers}{'retry-after'} // '';
    ok($ra =~ /^\d+$/ && $ra > 0 && $ra <= 3600, "$n: Retry-After is a sane number of seconds ($ra)");

    # a token's smaller burst claim, the same principal
    my $j2 = tok(sub => 'under2');
    @st = map { tget($j2, 'big')->{status} } 1 .. 10;
    is("@st", join(' ', ('200') x 10), "$n: burst 10 spent by under2");
    my $j3 = tok(sub => 'under2', burst => 1, rate => '1r/m');
    $r = tget($j3, 'big');
    is($r->{status}, 429, "$n: the same caller with a token whose burst is 1: 429");
    ($rem) = rl($r) =~ /;r=(\d+)/;
    ok(defined $rem && $rem <= 1, "$n: RateLimit r= is 0..1 (got " . rl($r) . ')');
}

# ------------------------------------------------ (b) burst= upper bound
{
    my $n = 'burst bound';
    my $c = sub {
        my ($b) = @_;
        return <<"EOF";
    hotkey_rate_limit_zone rlb:1m;
    server {
        listen 127.0.0.1:$port{big};
        location /v2/ {
            hotkey_api on;
            hotkey_store 127.0.0.1:$redis;
            hotkey_auth_token_keys $auth->{secret};
            hotkey_rate_limit rlb rate=10r/s burst=$b;
        }
    }
EOF
    };
    my ($rc, $out) = $t->nginx_t($c->(1000000));
    is($rc, 0, "$n: burst=1000000 is accepted") or diag($out);
    ($rc, $out) = $t->nginx_t($c->(1000001));
    isnt($rc, 0, "$n: burst=1000001 is refused by nginx -t");
    like($out, qr/burst/, "$n: with a message naming burst");
    ($rc, $out) = $t->nginx_t($c->('99999999999999999999'));
    isnt($rc, 0, "$n: burst=99999999999999999999 is refused");
}

# ------------------------------------------------ (c) a reply followed by junk
{
    my $n = 'reply plus junk';
    my $p = $t->list_path($pid, $iid, 'limit=3');
    my $before = () = $t->fake_log('junkstore') =~ /\n/g;
    my $r = $t->request('GET', $p, [], undef, port => $port{junk}, timeout => 5);
    is_json_error($r, 500, 'DCS.5000', 'Internal service error.', "$n: 500 DCS.5000");
    my @xcs = grep { lc $_->[0] eq 'x-cache-status' } @{ $r->{header_list} || [] };
    ok(@xcs <= 1, "$n: at most one X-Cache-Status header (got " . scalar(@xcs) . ')');
    my $mid = () = $t->fake_log('junkstore') =~ /\n/g;
    ok($mid > $before, "$n: the store was asked");
    my $r2 = $t->request('GET', $p, [], undef, port => $port{junk}, timeout => 5);
    is_json_error($r2, 500, 'DCS.5000', 'Internal service error.',
                  "$n: the next request is a 500 again (the reply was not cached)");
    isnt($r2->{headers}{'x-cache-status'} // '', 'HIT', "$n: not a HIT");
    my $after = () = $t->fake_log('junkstore') =~ /\n/g;
    ok($after > $mid, "$n: the next request asked the store again");
    $t->allow_log(qr/hotkey store/);
}

# ------------------------------------------------ (d) an early exit and the lock
{
    my $n = 'stale answer to a reset client';
    my $p = $t->list_path($pid, $iid, 'limit=4');
    my $exp = expected_list($iid, \@tasks, limit => 4);
    my $r = $t->request('GET', $p, [], undef, port => $port{stale});
    is(($r->{status} // 'none') . ' ' . ($r->{headers}{'x-cache-status'} // '-'), '200 MISS',
       "$n: first request: 200 MISS");
    my $stored = time;
    sleep 1.3;                              # expired, in the stale window
    my ($worker) = wait_workers($t);
    my $c = Hotkey::Attack::Conn->new($t, port => $port{stale});
    sleep 0.2;                              # accepted by the worker
    kill 'STOP', $worker;
    $c->send('GET', $p);
    if ($ENV{HOTKEY_ATTACK_CONTROL}) {
        kill 'CONT', $worker;
        my $cr = $c->recv(timeout => 3);
        note('control: ' . ($cr->{status} // 'none') . ' ' . ($cr->{headers}{'x-cache-status'} // '-'));
        $c->close;
    } else {
        $c->reset;                          # the answer cannot be sent
        sleep 0.1;
        kill 'CONT', $worker;
    }
    my $wait = $stored + 2.4 - time;        # past freshness + stale window
    sleep $wait if $wait > 0;
    my $r2 = $t->request('GET', $p, [], undef, port => $port{stale}, timeout => 3);
    ok(defined $r2->{status} && $r2->{elapsed} < 2,
       sprintf("$n: after the stale window the next request is answered at once (%.2fs, lock time 12.5 s)",
               $r2->{elapsed}));
    is_json_ok($r2, $exp, "$n: 200, the right JSON");
    my $r3 = $t->request('GET', $p, [], undef, port => $port{stale}, timeout => 3);
    is(($r3->{status} // 'none'), 200, "$n: and the one after");
    hard_stop($t);
}

$t->done;
