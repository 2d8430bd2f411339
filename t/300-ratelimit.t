#!/usr/bin/perl
# Per-caller rate limits (issue 5): a token bucket per principal in shared
# memory.  Exactness under concurrency over 2 workers, the 429 answer and
# Retry-After, the RateLimit-Policy / RateLimit fields (draft 10), per
# credential and per token overrides, unauthenticated callers not counted,
# buckets kept across nginx -s reload.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Limits qw(:all);

plan skip_all => 'hotkeyctl not built (make cli)' unless -x ctl_path();

my $t = Hotkey::Test->new(workers => 2);
$t->start_redis;

my $pid = hex32();
my $pid2 = hex32();
my $iid = uuid();
$t->add_instance($iid, project => $pid);
my @tasks = $t->add_tasks($iid, map { { status => 'success' } } 1 .. 3);
my $iid2 = uuid();
$t->add_instance($iid2, project => $pid2);

my $RATE = 5;      # r/s, the default policy
my $BURST = 10;

my %ak = (
    bob    => [ 'AKBOB0000000000000001', 'sk-bob-' . hex32() ],
    slow   => [ 'AKSLOW000000000000001', 'sk-slow-' . hex32() ],
    victim => [ 'AKVICTIM0000000000001', 'sk-victim-' . hex32() ],
    forb   => [ 'AKFORB00000000000001', 'sk-forb-' . hex32() ],
);
my $auth = auth_files($t, creds => [
    "$ak{bob}[0] $ak{bob}[1] projects=* actions=* name=bob",
    "$ak{slow}[0] $ak{slow}[1] projects=$pid actions=dcs:instance:listHotKey name=slow rate=1r/s burst=2",
    "$ak{victim}[0] $ak{victim}[1] projects=$pid actions=* name=victim",
    # may list in pid2 only: a 403 in pid, a 200 in pid2
    "$ak{forb}[0] $ak{forb}[1] projects=$pid2 actions=dcs:instance:listHotKey name=forb",
]);

my $port2 = $t->port('noheaders');
my $port3 = $t->port('zone2');
$t->wait_ports($port2, $port3);
my $plog = $t->prefix . '/logs/pid.log';

sub http_conf {
    my $port = $t->nginx_port;
    my $redis = $t->redis_port;
    my $loc = sub {
        my ($extra) = @_;
        return <<"EOF";
        location /v2/ {
            hotkey_api on;
            hotkey_store hk_store;
            hotkey_auth_token_keys $auth->{secret};
            hotkey_auth_credentials $auth->{creds};
            hotkey_rate_limit rl rate=${RATE}r/s burst=$BURST;
$extra
        }
EOF
    };
    my $main = $loc->('');
    my $off = $loc->('            hotkey_rate_limit_headers off;');
    (my $zone2 = $main) =~ s/hotkey_rate_limit rl /hotkey_rate_limit rl2 /;
    return <<"EOF";
    log_format hkpid '\$pid \$status "\$hotkey_principal"';
    hotkey_rate_limit_zone rl:1m;
    upstream hk_store {
        server 127.0.0.1:$redis;
        keepalive 8;
    }
    server {
        listen 127.0.0.1:$port reuseport;
        access_log $plog hkpid;
$main
    }
    server {
        listen 127.0.0.1:$port2 reuseport;
$off
    }
    hotkey_rate_limit_zone rl2:1m;
    server {
        listen 127.0.0.1:$port3;
$zone2
    }
EOF
}

$t->start_nginx(http_conf());

my $path = $t->list_path($pid, $iid);
my $path2 = $t->list_path($pid2, $iid2);
my $THROTTLE_BODY = '{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached.","error_ext_msg":null}';

sub tok { mint_token($t, project => $pid, @_) }
sub tget {
    my ($jwt, $p, %o) = @_;
    return $t->request('GET', $p // $path, [ 'X-Auth-Token' => $jwt ], undef, %o);
}
sub akget {
    my ($who, $p, %o) = @_;
    $p //= $path;
    my @h = aksk_headers($t, ak => $ak{$who}[0], sk => $ak{$who}[1], path => $p,
                         port => $o{port});
    return $t->request('GET', $p, \@h, undef, %o);
}
sub policy {
    my ($r) = @_;
    my $v = $r->{headers}{'ratelimit-policy'} // '';
    return $v =~ /^"caller";q=(\d+);w=(\d+)$/ ? ($1, $2) : ();
}
sub state {
    my ($r) = @_;
    my $v = $r->{headers}{'ratelimit'} // '';
    return $v =~ /^"caller";r=(\d+);t=(\d+)$/ ? ($1, $2) : ();
}
sub hdrs { my $r = shift; "status $r->{status}, RateLimit-Policy: "
           . ($r->{headers}{'ratelimit-policy'} // '(none)') . ', RateLimit: '
           . ($r->{headers}{'ratelimit'} // '(none)') . ', Retry-After: '
           . ($r->{headers}{'retry-after'} // '(none)') }
sub count_hdr {
    my ($r, $name) = @_;
    return scalar grep { lc $_->[0] eq $name } @{ $r->{header_list} || [] };
}

# ------------------------------------------------- (3) the fields, a burst
{
    my $jwt = tok(sub => 'hdr');
    my (@r, @t, @st);
    for my $i (1 .. $BURST + 1) {
        my $r = tget($jwt);
        push @st, $r->{status};
        my ($q, $w) = policy($r);
        my ($rem, $reset) = state($r);
        if ($i == 1) {
            is($r->{status}, 200, 'fresh caller: 200');
            is_deeply([$q, $w], [$BURST, int(($BURST + $RATE - 1) / $RATE)],
                      "RateLimit-Policy is \"caller\";q=$BURST;w=" . int(($BURST + $RATE - 1) / $RATE))
                or diag(hdrs($r));
            is($rem, $BURST - 1, "first answer: r=" . ($BURST - 1)) or diag(hdrs($r));
            is(count_hdr($r, 'ratelimit'), 1, 'one RateLimit field');
            is(count_hdr($r, 'ratelimit-policy'), 1, 'one RateLimit-Policy field');
            ok(!defined $r->{headers}{'retry-after'}, '200: no Retry-After');
        }
        push @r, $rem // -1;
        push @t, $reset // -1;
        if ($i == $BURST + 1) {
            is($r->{status}, 429, "request " . ($BURST + 1) . " of a quick burst: 429");
            ok(defined $rem && defined $q, '429 carries RateLimit-Policy and RateLimit')
                or diag(hdrs($r));
            is($rem, 0, '429: r=0') or diag(hdrs($r));
        }
    }
    my @pass_r = @r[0 .. $BURST - 1];
    my $dec = 1;
    for my $i (1 .. $#pass_r) { $dec = 0 unless $pass_r[$i] < $pass_r[$i - 1] }
    ok($dec, 'r decreases across the burst') or diag("statuses @st; r: @r");
    is($pass_r[-1], 0, "the ${BURST}th request leaves r=0") or diag("r: @r");
    my $tok = 1;
    for my $i (1 .. $#pass_r) { $tok = 0 unless $t[$i] >= $t[$i - 1] }
    ok($tok && $t[0] >= 1 && $t[-1] <= int(($BURST + $RATE - 1) / $RATE),
       't grows across the burst, within 1..w') or diag("t: @t");

    # a 400 after authentication carries the fields (and was counted)
    my $jwt2 = tok(sub => 'hdr400');
    my $r1 = tget($jwt2);
    my $r2 = tget($jwt2, "$path?limit=0");
    is_json_error($r2, 400, 'DCS.4062', 'Invalid limit parameter in the request.',
                  'bad limit after auth: 400 DCS.4062');
    my ($q2) = policy($r2);
    my ($rem2) = state($r2);
    is($q2, $BURST, '400: RateLimit-Policy present') or diag(hdrs($r2));
    is($rem2, $BURST - 2, '400: RateLimit present, the 400 counted (r=burst-2)') or diag(hdrs($r2));

    # a store answer after authentication (unknown instance) carries them too
    my $r404 = tget($jwt2, $t->list_path($pid, uuid()));
    is_json_error($r404, 404, 'DCS.3022', 'This DCS instance does not exist.',
                  'unknown instance after auth: 404 DCS.3022');
    is((state($r404))[0], $BURST - 3, '404 from the store: RateLimit present (r=burst-3)')
        or diag(hdrs($r404));

    # no fields before authentication
    my $r401 = $t->get($path);
    is($r401->{status}, 401, 'no credentials: 401');
    ok(!defined $r401->{headers}{'ratelimit'} && !defined $r401->{headers}{'ratelimit-policy'},
       '401: no RateLimit fields') or diag(hdrs($r401));

    # hotkey_rate_limit_headers off
    my $jwt3 = tok(sub => 'nohdr');
    my @rs = map { tget($jwt3, undef, port => $port2) } 1 .. $BURST + 1;
    is($rs[0]{status}, 200, 'headers off: 200');
    ok(!defined $rs[0]{headers}{'ratelimit'} && !defined $rs[0]{headers}{'ratelimit-policy'},
       'headers off: 200 without RateLimit fields') or diag(hdrs($rs[0]));
    is($rs[-1]{status}, 429, 'headers off: still limited (429)');
    ok(!defined $rs[-1]{headers}{'ratelimit'} && !defined $rs[-1]{headers}{'ratelimit-policy'},
       'headers off: 429 without RateLimit fields') or diag(hdrs($rs[-1]));
    like($rs[-1]{headers}{'retry-after'} // '', qr/^[1-9]\d*$/,
         'headers off: 429 keeps Retry-After') or diag(hdrs($rs[-1]));
}

# ------------------------------------------------- (2) the 429 and Retry-After
{
    # 30r/m, burst 1: the second request waits 2 s
    my $jwt = tok(sub => 'retry', rate => '30r/m', burst => 1);
    my $r1 = tget($jwt);
    is($r1->{status}, 200, '30r/m burst 1: first 200');
    my $r2 = tget($jwt);
    is_json_error($r2, 429, 'APIGW.0308', 'The throttling threshold has been reached.',
                  'second at once: 429 APIGW.0308');
    is($r2->{body}, $THROTTLE_BODY, '429 body is byte for byte the contract JSON');
    my $ra = $r2->{headers}{'retry-after'};
    like($ra // '', qr/^[1-9]\d*$/, 'Retry-After is an integer >= 1') or diag(hdrs($r2));
    is(count_hdr($r2, 'retry-after'), 1, 'one Retry-After');
    is($ra, 2, 'Retry-After is 2 (one request per 2 s, bucket just emptied)');
    my ($rem, $reset) = state($r2);
    ok(defined $reset && $reset >= 1 && $reset <= 2, "429: RateLimit t in 1..2") or diag(hdrs($r2));
    $ra = 2 unless defined $ra && $ra =~ /^\d+$/ && $ra <= 10;
    sleep(1);
    my $r3 = tget($jwt);
    is($r3->{status}, 429, 'after 1 s (half the Retry-After): still 429');
    sleep($ra - 1 + 0.05);
    my $r4 = tget($jwt);
    is($r4->{status}, 200, "after waiting Retry-After ($ra s): passes") or diag(hdrs($r4));
    # a refused request takes nothing from the bucket
    my $r5 = tget($jwt);
    is($r5->{status}, 429, 'and the next one is refused again');
}

# ------------------------------------------------- (4) overrides
{
    # credential line rate=1r/s burst=2
    my @r = map { akget('slow') } 1 .. 3;
    is_deeply([ map { $_->{status} } @r ], [200, 200, 429],
              'credential rate=1r/s burst=2: 2 pass, the 3rd is 429');
    is_deeply([ policy($r[0]) ], [2, 2], 'credential override: RateLimit-Policy q=2;w=2')
        or diag(hdrs($r[0]));
    is((state($r[0]))[0], 1, 'credential override: r=1 after the first');
    like($r[2]{headers}{'retry-after'} // '', qr/^1$/, 'credential override: Retry-After 1')
        or diag(hdrs($r[2]));
    sleep 1.05;
    is(akget('slow')->{status}, 200, 'credential override: one more after 1 s');

    # the default still holds for the other credential
    my $b = akget('bob', $path2);
    is_deeply([ policy($b) ], [$BURST, 2], 'other credential: the default policy')
        or diag(hdrs($b));

    # token claims rate/burst
    my $jwt = tok(sub => 'tok-over', rate => 2, burst => 3);
    my @s = map { tget($jwt) } 1 .. 4;
    is_deeply([ map { $_->{status} } @s ], [200, 200, 200, 429],
              'token rate=2 burst=3: 3 pass, the 4th is 429');
    is_deeply([ policy($s[0]) ], [3, 2], 'token override: RateLimit-Policy q=3;w=2')
        or diag(hdrs($s[0]));
    is_deeply([ map { (state($_))[0] // 'none' } @s ], [2, 1, 0, 0],
              'token override: r 2,1,0 then 0 on the 429');

    my $jm = tok(sub => 'tok-perminute', rate => '120r/m', burst => 4);
    my @m = map { tget($jm) } 1 .. 5;
    is_deeply([ map { $_->{status} } @m ], [200, 200, 200, 200, 429],
              'token rate=120r/m burst=4: 4 pass, the 5th is 429');
    is_deeply([ policy($m[0]) ], [4, 2], 'token 120r/m burst 4: q=4;w=2') or diag(hdrs($m[0]));

    # r/m rates not a multiple of 60: w = burst / rate exactly, Retry-After
    # of an empty 1r/m bucket is 60 s
    my $j1 = tok(sub => 'tok-1rm', rate => '1r/m', burst => 1);
    my @o = map { tget($j1) } 1 .. 2;
    is_deeply([ map { $_->{status} } @o ], [200, 429], 'token 1r/m burst 1: 200 then 429');
    is_deeply([ policy($o[0]) ], [1, 60], 'token 1r/m burst 1: w=60 (the bucket fills in 60 s)')
        or diag(hdrs($o[0]));
    is($o[1]{headers}{'retry-after'}, 60, 'token 1r/m burst 1: Retry-After 60')
        or diag(hdrs($o[1]));
}

# ------------------------------------------------- (4b) an override bucket is kept
# while other callers come and go (zone rl2 holds only these two callers)
{
    my $L = tok(sub => 'lru-limited', rate => '1r/m', burst => 1);
    my @r = map { tget($L, undef, port => $port3) } 1 .. 2;
    is_deeply([ map { $_->{status} } @r ], [200, 429], 'zone 2, token 1r/m burst 1: 200, 429');
    sleep 0.5;
    my $n = tget(tok(sub => 'lru-newcomer'), undef, port => $port3);
    is($n->{status}, 200, 'zone 2: a new caller (default 5r/s) arrives half a second later');
    my $r3 = tget($L, undef, port => $port3);
    is($r3->{status}, 429,
       'the 1r/m caller is still limited after the newcomer (its bucket was not dropped)')
        or diag('got ' . hdrs($r3) . ': the empty 1r/m bucket was forgotten when the'
                . ' newcomer was created (expired with the newcomer\'s rate, not its own)');
}

# ------------------------------------------------- (5) unauthenticated callers are not counted
{
    my $mark = time;
    my $good = tok(sub => 'victim-token');
    my $expired = tok(sub => 'victim-token', ttl => 600, now => int(time) - 7200);
    my $other = mint_token($t, project => $pid2, sub => 'victim-token');
    my $noact = tok(sub => 'victim-token', actions => 'dcs:instance:analyze');
    my @bad;
    # bad signatures with the victim's access key
    my @h = aksk_headers($t, ak => $ak{victim}[0], sk => 'wrong-secret', path => $path);
    push @bad, $t->request('GET', $path, \@h) for 1 .. 8;
    push @bad, tget($expired) for 1 .. 6;
    push @bad, tget($other) for 1 .. 6;     # DCS.1004
    push @bad, $t->get($path) for 1 .. 6;    # nothing
    push @bad, tget($noact) for 1 .. 6;      # 403 for the token's principal
    push @bad, akget('forb') for 1 .. 12;    # 403 for the credential's principal
    my %st;
    $st{ $_->{status} // 0 }++ for @bad;
    is_deeply(\%st, { 401 => 26, 403 => 18 }, '44 refused callers: 26 x 401, 18 x 403')
        or diag(join ' ', map { $_->{status} // 'none' } @bad);
    my $anyhdr = grep { defined $_->{headers}{'ratelimit'} } @bad;
    is($anyhdr, 0, 'no RateLimit fields on 401/403');
    my $r = akget('victim');
    is($r->{status}, 200, 'after 8 bad signatures, the credential passes');
    is((state($r))[0], $BURST - 1, 'and its bucket is full (r=burst-1): the 401s were not counted')
        or diag(hdrs($r));
    $r = tget($good);
    is($r->{status}, 200, 'after 18 refused tokens with its sub, the token passes');
    is((state($r))[0], $BURST - 1, 'its bucket was full: 401 and 403 not counted')
        or diag(hdrs($r));
    $r = akget('forb', $path2);
    is($r->{status}, 200, 'the forbidden credential, in its own project: 200');
    is((state($r))[0], $BURST - 1, 'its 12 x 403 were not counted') or diag(hdrs($r));
}

# ------------------------------------------------- (1) exactness under concurrency
{
    # each child opens connection after connection, each carrying $PIPE
    # pipelined requests (a worker decides a whole pipeline in one pass of
    # its event loop, so the two workers' decisions interleave closely)
    my $PIPE = 100;
    my $jwt = tok(sub => 'alice');
    my $A = raw_request('GET', $path, [ 'X-Auth-Token' => $jwt ], $PIPE);
    my $B = raw_request('GET', $path, [ aksk_headers($t, ak => $ak{bob}[0],
                                                     sk => $ak{bob}[1], path => $path) ],
                        $PIPE);
    # bob must start with a full bucket: wait until what he spent refills
    sleep 2.1;
    my $lines0 = log_line_count($plog);
    my $res = flood($t, duration => 3, pause => 0.002,
                    clients => [ { tag => 'A', bytes => $A, procs => 3, pipeline => $PIPE },
                                 { tag => 'B', bytes => $B, procs => 3, pipeline => $PIPE } ]);
    my $total_pass = 0;
    my $bound_one;
    for my $tag (qw(A B)) {
        my $e = $res->{$tag} || { status => {}, n => 0 };
        my $pass = $e->{status}{200} // 0;
        my $lim = $e->{status}{429} // 0;
        my $T = ($e->{last_recv} // 0) - ($e->{first_send} // 0);
        my $bound = $RATE * $T + $BURST;
        $bound_one = $bound if !defined $bound_one || $bound < $bound_one;
        $total_pass += $pass;
        my $who = $tag eq 'A' ? 'token sub=alice' : 'AK/SK bob';
        my $summary = sprintf '%s: %d requests, %d x 200, %d x 429, other %s, T=%.3f s',
             $who, $e->{n}, $pass, $lim,
             join(',', map { "$_:$e->{status}{$_}" } grep { !/^(200|429)$/ }
                  sort keys %{ $e->{status} }) || 'none', $T;
        note($summary);
        cmp_ok($e->{n}, '>=', 200, "$who: many requests sent");
        is($pass + $lim, $e->{n}, "$who: every answer is 200 or 429");
        cmp_ok($pass, '<=', $bound,
               sprintf("$who: passed <= rate*T + burst (%.2f)", $bound))
            or diag("$summary (rate ${RATE}r/s, burst $BURST: a bucket refilled at once?)");
        cmp_ok($pass, '>=', $BURST, "$who: the burst is granted (>= $BURST)");
        cmp_ok($pass, '>=', int($BURST + $RATE * ($T - 1)),
               "$who: the rate is granted (>= burst + rate*(T-1))");
    }
    cmp_ok($total_pass, '>', $bound_one,
           'the two principals together pass more than one bucket allows (not shared)');
    # both workers decided
    my %pids;
    for (log_lines_from($plog, $lines0)) {
        $pids{$1}{$2}++ if /^(\d+) (200|429) "(alice|bob)"/;
    }
    my @w = grep { ($pids{$_}{200} // 0) + ($pids{$_}{429} // 0) > 0 } keys %pids;
    cmp_ok(scalar @w, '>=', 2, 'both workers answered the flood')
        or diag(explain \%pids);

    # after the flood, a third principal is untouched
    my $r = tget(tok(sub => 'carol'));
    is((state($r))[0], $BURST - 1, 'a third principal starts with a full bucket');
}

# ------------------------------------------------- (6) kept across reload
{
    my $jwt = tok(sub => 'reloader', rate => '1r/m', burst => 2);
    my @r = map { tget($jwt) } 1 .. 3;
    is_deeply([ map { $_->{status} } @r ], [200, 200, 429], '1r/m burst 2: 200, 200, 429');
    my @old = $t->worker_pids;
    my ($rc, $replaced) = $t->reload(http_conf());
    is($rc, 0, 'nginx -s reload');
    ok($replaced, 'new workers');
    my @after = map { tget($jwt) } 1 .. 4;
    is_deeply([ map { $_->{status} } @after ], [429, 429, 429, 429],
              'after reload the bucket is still empty: 429') or diag(hdrs($after[0]));
    is((state($after[0]))[0], 0, 'after reload: r=0');
    my $n = tget(tok(sub => 'fresh-after-reload'));
    is($n->{status}, 200, 'after reload: another caller passes');
}

$t->done;
