#!/usr/bin/perl
# The Prometheus page (location = /metrics { hotkey_metrics; }): text
# format and naming conventions, then exact deltas of every counter for a
# known mix of answers (200 miss/hit, 400, every kind of 401, 403, 429,
# 500 with the store down), summed over both workers, and kept across
# nginx -s reload.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(strftime);
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
$t->add_tasks($iid, map { { status => 'success' } } 1 .. 4);

my ($AK, $SK) = ('AKMETRICS00000000001', 'sk-metrics-' . hex32());
my $auth = auth_files($t, creds => [ "$AK $SK projects=$pid actions=* name=metrics-ak" ]);
my $plog = $t->prefix . '/logs/pid.log';

sub http_conf {
    my $port = $t->nginx_port;
    my $redis = $t->redis_port;
    return <<"EOF";
    log_format hkpid '\$pid \$status \$uri';
    hotkey_rate_limit_zone rl:1m;
    hotkey_cache_zone hk:4m;
    upstream hk_store {
        server 127.0.0.1:$redis;
        keepalive 8;
    }
    server {
        listen 127.0.0.1:$port reuseport;
        access_log $plog hkpid;
        location = /metrics {
            hotkey_metrics;
        }
        location /v2/ {
            hotkey_api on;
            hotkey_store hk_store;
            hotkey_store_connect_timeout 300ms;
            hotkey_store_read_timeout 500ms;
            hotkey_cache hk;
            hotkey_cache_valid 120s;
            hotkey_auth_token_keys $auth->{secret};
            hotkey_auth_credentials $auth->{creds};
            hotkey_rate_limit rl rate=100r/s burst=100;
        }
    }
EOF
}

$t->start_nginx(http_conf());
# a store that went away is logged; that is expected here
$t->allow_log(qr/connect\(\) failed|upstream|store/i);

my $path = $t->list_path($pid, $iid);

# ------------------------------------------------- helpers
my $last_page;
# The counters once two reads 50 ms apart agree: a request is counted in
# its log phase, after its answer was sent, and the page may come from the
# other worker before that (a page itself counts nothing).
sub snapshot {
    my ($name) = @_;
    my ($prev, $cur);
    my $end = time + 3;
    while (1) {
        my $r = $t->get('/metrics');
        $last_page = $r;
        unless (($r->{status} // 0) == 200) {
            fail("$name: GET /metrics answers 200");
            diag("got " . ($r->{status} // 'nothing') . ': ' . ($r->{body} // ''));
            return {};
        }
        $cur = { %{ parse_prom($r->{body})->{samples} } };
        return $cur if ($prev && !%{ deltas($prev, $cur) }) || time > $end;
        $prev = $cur;
        sleep 0.05;
    }
}

sub deltas {
    my ($a, $b) = @_;
    my %d;
    for my $k (keys %$b) {
        next if $k =~ /_sum\{/;
        my $v = $b->{$k} - ($a->{$k} // 0);
        $d{$k} = $v if $v;
    }
    for my $k (keys %$a) { $d{$k} = -$a->{$k} if !exists $b->{$k} && $a->{$k} }
    return \%d;
}

sub req_key { "hotkey_requests_total{error_code=\"$_[1]\",status=\"$_[0]\"}" }

my $H = 20;      # cache hits
my $N = 7;       # rate limited

# ------------------------------------------------- the page itself
my $fmt_page;
{
    my $r = $t->get('/metrics');
    is($r->{status}, 200, 'GET /metrics: 200');
    like($r->{headers}{'content-type'} // '', qr{^text/plain;\s*version=0\.0\.4},
         'Content-Type text/plain; version=0.0.4');
    my $p = parse_prom($r->{body} // '');
    $fmt_page = $p;
    is_deeply($p->{errors}, [], 'the page parses as Prometheus text format')
        or diag($r->{body});
    my %f = %{ $p->{families} };
    for my $n (qw(hotkey_requests_total hotkey_cache_results_total
                  hotkey_store_requests_total hotkey_store_request_duration_seconds
                  hotkey_auth_failures_total hotkey_rate_limited_total))
    {
        ok($f{$n} && @{ $f{$n}{samples} }, "family $n present");
    }
    my @bad_names = grep { !/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/ } keys %f;
    is_deeply(\@bad_names, [], 'metric names are snake_case');
    my @no_help = grep { !defined $f{$_}{help} || !length $f{$_}{help} } keys %f;
    is_deeply(\@no_help, [], 'every family has a HELP line');
    my @counter_names = grep { ($f{$_}{type} // '') eq 'counter' && !/_total$/ } keys %f;
    is_deeply(\@counter_names, [], 'every counter ends in _total');
    my @total_not_counter = grep { /_total$/ && ($f{$_}{type} // '') ne 'counter' } keys %f;
    is_deeply(\@total_not_counter, [], 'every *_total family is TYPE counter');
    my @units = grep { /_(ms|msec|milliseconds|us|usec|microseconds|minutes|hours)(_|$)/ } keys %f;
    is_deeply(\@units, [], 'no non-base time units in names');
    my $h = $f{hotkey_store_request_duration_seconds};
    is($h && $h->{type}, 'histogram', 'hotkey_store_request_duration_seconds is TYPE histogram');
    my %labels;
    for my $fam (values %f) {
        for my $s (@{ $fam->{samples} }) {
            $labels{ $fam->{name} }{ join ',', sort grep { $_ ne 'le' } keys %{ $s->{labels} } } = 1;
        }
    }
    is_deeply([ sort keys %{ $labels{hotkey_requests_total} || {} } ], ['error_code,status'],
              'hotkey_requests_total labels: status, error_code');
    is_deeply([ sort keys %{ $labels{hotkey_cache_results_total} || {} } ], ['result'],
              'hotkey_cache_results_total label: result');
    is_deeply([ sort keys %{ $labels{hotkey_store_requests_total} || {} } ], ['result'],
              'hotkey_store_requests_total label: result');
    is_deeply([ sort keys %{ $labels{hotkey_auth_failures_total} || {} } ], ['reason'],
              'hotkey_auth_failures_total label: reason');
    is_deeply([ sort keys %{ $labels{hotkey_rate_limited_total} || {} } ], [''],
              'hotkey_rate_limited_total has no labels');
    my @store = sort map { $_->{labels}{result} } @{ $f{hotkey_store_requests_total}{samples} || [] };
    is_deeply(\@store, [qw(error ok)], 'store results: ok and error');
    my %reasons = map { $_->{labels}{reason} => 1 } @{ $f{hotkey_auth_failures_total}{samples} || [] };
    ok($reasons{$_}, "auth failure reason $_ is exposed")
        for qw(no_credentials token_invalid token_expired token_project aksk_signature
               aksk_expired aksk_unknown_key aksk_malformed forbidden);
    my %results = map { $_->{labels}{result} => 1 } @{ $f{hotkey_cache_results_total}{samples} || [] };
    ok($results{$_}, "cache result $_ is exposed") for qw(miss hit);
    my %codes = map {; "$_->{labels}{status} $_->{labels}{error_code}" => 1 }
                @{ $f{hotkey_requests_total}{samples} || [] };
    ok($codes{$_}, "requests_total has the series $_")
        for ('200 ', '400 DCS.4062', '401 DCS.1003', '401 APIGW.0301', '403 DCS.2007',
             '429 APIGW.0308', '500 DCS.5000');
    # values of counters are integers
    my @nonint = grep { !/_sum\{/ && $p->{samples}{$_} !~ /^\d+$/ } keys %{ $p->{samples} };
    is_deeply(\@nonint, [], 'every counter and bucket value is a non-negative integer');

    my $hr = $t->head('/metrics');
    is($hr->{status}, 200, 'HEAD /metrics: 200');
    is($hr->{body}, '', 'HEAD /metrics: no body');
    my $pr = $t->request('POST', '/metrics', [], 'x');
    is($pr->{status}, 405, 'POST /metrics: 405');
}

# histogram checks on a page
sub check_histogram {
    my ($samples, $name) = @_;
    my $base = 'hotkey_store_request_duration_seconds';
    my @b;
    for my $k (keys %$samples) {
        push @b, [$1, $samples->{$k}] if $k =~ /^${base}_bucket\{le="([^"]+)"\}$/;
    }
    my $le = sub { $_[0] eq '+Inf' ? 9**9**9 : $_[0] };
    @b = sort { $le->($a->[0]) <=> $le->($b->[0]) } @b;
    ok(@b >= 2 && $b[-1][0] eq '+Inf', "$name: buckets end with le=\"+Inf\"");
    my @bad_le = grep { $_->[0] ne '+Inf' && $_->[0] !~ /^\d+(\.\d+)?([eE][-+]?\d+)?$/ } @b;
    is_deeply(\@bad_le, [], "$name: le values are numbers");
    my $mono = 1;
    for my $i (1 .. $#b) { $mono = 0 if $b[$i][1] < $b[$i - 1][1] }
    ok($mono, "$name: buckets are cumulative (non-decreasing)")
        or diag(join ' ', map { "$_->[0]:$_->[1]" } @b);
    is($b[-1][1], $samples->{"${base}_count{}"}, "$name: +Inf bucket == _count");
    like($samples->{"${base}_sum{}"} // '', qr/^\d+(\.\d+)?([eE][-+]?\d+)?$/,
         "$name: _sum is a number (seconds)");
    my $cnt = ($samples->{'hotkey_store_requests_total{result="ok"}'} // 0)
            + ($samples->{'hotkey_store_requests_total{result="error"}'} // 0);
    is($samples->{"${base}_count{}"}, $cnt, "$name: _count == store requests ok + error");
}
check_histogram($fmt_page->{samples}, 'first page');

# ------------------------------------------------- the page does not count itself
{
    my $a = snapshot('s0');
    my $b = snapshot('s1');
    is_deeply(deltas($a, $b), {}, 'two pages in a row: nothing changed (/metrics is not counted)');
}

# ------------------------------------------------- a known mix
my $user = mint_token($t, project => $pid, sub => 'metrics-user');
my $limited = mint_token($t, project => $pid, sub => 'metrics-limited', rate => '1r/m', burst => 1);
# both callers are known to the limiter before the first snapshot (the
# user's first request is on another cache key), and the limited caller
# spends its only request
is($t->request('GET', "$path?limit=3", [ 'X-Auth-Token' => $user ])->{status}, 200,
   'user: a first request');
is($t->request('GET', "$path?limit=2", [ 'X-Auth-Token' => $limited ])->{status}, 200,
   'limited caller: its one request');

my $S1 = snapshot('before the mix');
my $lines0 = log_line_count($plog);
my %sent;    # "status code" => n
sub send_and_check {
    my ($r, $status, $code, $what) = @_;
    $sent{"$status $code"}++;
    my $got = ($r->{status} // 'none') . ' ' . (ref $r->{json} eq 'HASH' ? $r->{json}{error_code} // '' : '');
    $got =~ s/ $//;
    my $want = $code eq '' ? "$status" : "$status $code";
    is($got, $want, "mix: $what -> $want");
}
{
    my @tok = ('X-Auth-Token' => $user);
    my $r = $t->request('GET', "$path?limit=5", \@tok);
    send_and_check($r, 200, '', 'first valid list (miss)');
    is($r->{headers}{'x-cache-status'}, 'MISS', 'first: X-Cache-Status MISS');
    my $hits = 0;
    for (1 .. $H) {
        my $x = $t->request('GET', "$path?limit=5", \@tok);
        send_and_check($x, 200, '', 'valid list (hit)') unless ($x->{status} // 0) == 200;
        $sent{'200 '}++ if ($x->{status} // 0) == 200;
        $hits++ if ($x->{headers}{'x-cache-status'} // '') eq 'HIT';
    }
    is($hits, $H, "$H more valid lists: all 200 HIT");

    send_and_check($t->request('GET', "$path?limit=0", \@tok), 400, 'DCS.4062', 'limit=0');
    send_and_check($t->request('GET', "$path?limit=abc", \@tok), 400, 'DCS.4062', 'limit=abc');
    send_and_check($t->get($path), 401, 'DCS.1003', 'no credentials');
    send_and_check($t->request('GET', $path, [ 'X-Auth-Token' => 'not.a.token' ]),
                   401, 'DCS.1001', 'garbage token');
    my $exp = mint_token($t, project => $pid, sub => 'metrics-user', ttl => 600,
                         now => int(time) - 7200);
    send_and_check($t->request('GET', $path, [ 'X-Auth-Token' => $exp ]),
                   401, 'DCS.1002', 'expired token');
    my $other = mint_token($t, project => $pid2, sub => 'metrics-user');
    send_and_check($t->request('GET', $path, [ 'X-Auth-Token' => $other ]),
                   401, 'DCS.1004', 'token of another project');
    my @h = aksk_headers($t, ak => $AK, sk => $SK, path => $path);
    s/Signature=([0-9a-f])/'Signature=' . ($1 eq '0' ? '1' : '0')/e for @h;
    send_and_check($t->request('GET', $path, \@h), 401, 'APIGW.0301', 'bad signature');
    @h = aksk_headers($t, ak => 'AKUNKNOWN00000000001', sk => $SK, path => $path);
    send_and_check($t->request('GET', $path, \@h), 401, 'APIGW.0301', 'unknown access key');
    my @ho = aksk_headers($t, ak => $AK, sk => $SK, path => $path);
    my $old = strftime('%Y%m%dT%H%M%SZ', gmtime(time - 3600));
    my @hx = do {
        my ($rc, $out);
        my @cmd = (ctl_path(), 'sign', '--ak', $AK, '--sk', $SK, '--date', $old,
                   '--url', 'http://127.0.0.1:' . $t->nginx_port . $path);
        open my $fh, '-|', @cmd or die;
        local $/; $out = <$fh>; close $fh;
        map { /^([^:]+):\s*(.*?)\s*$/ ? ($1, $2) : () } split /\n/, $out;
    };
    send_and_check($t->request('GET', $path, \@hx), 401, 'APIGW.0301', 'X-Sdk-Date an hour ago');
    my %ho = @ho;
    send_and_check($t->request('GET', $path, [ Host => $ho{Host}, 'X-Sdk-Date' => $ho{'X-Sdk-Date'},
                                               Authorization => 'SDK-HMAC-SHA256 nonsense' ]),
                   401, 'APIGW.0301', 'malformed Authorization');
    my $noact = mint_token($t, project => $pid, sub => 'metrics-user', actions => 'dcs:instance:analyze');
    send_and_check($t->request('GET', $path, [ 'X-Auth-Token' => $noact ]), 403, 'DCS.2007', 'forbidden');
    for (1 .. $N) {
        send_and_check($t->request('GET', "$path?limit=2", [ 'X-Auth-Token' => $limited ]),
                       429, 'APIGW.0308', 'rate limited');
    }
    $t->stop_redis(save => 1);
    my $x = $t->request('GET', "$path?limit=6", \@tok);
    send_and_check($x, 500, 'DCS.5000', 'store down (a key not cached)');
    note('500 X-Cache-Status: ' . ($x->{headers}{'x-cache-status'} // '(none)'));
    $t->start_redis;
}
my $S2 = snapshot('after the mix');
{
    my $d = deltas($S1, $S2);
    my %want;
    for my $k (keys %sent) {
        my ($st, $code) = split / /, $k, 2;
        $want{ req_key($st, $code // '') } = $sent{$k};
    }
    $want{'hotkey_cache_results_total{result="miss"}'} = 2;
    $want{'hotkey_cache_results_total{result="hit"}'} = $H;
    $want{'hotkey_store_requests_total{result="ok"}'} = 1;
    $want{'hotkey_store_requests_total{result="error"}'} = 1;
    $want{"hotkey_auth_failures_total{reason=\"$_\"}"} = 1
        for qw(no_credentials token_invalid token_expired token_project aksk_signature
               aksk_expired aksk_unknown_key aksk_malformed forbidden);
    $want{'hotkey_rate_limited_total{}'} = $N;
    $want{'hotkey_store_request_duration_seconds_count{}'} = 2;
    # the per-operation counter: every 200 is an ok of the list operation
    is($d->{'hotkey_operation_requests_total{operation="ListHotKeyScanTasks",result="ok"}'} // 0,
       $d->{ req_key(200, '') } // -1, 'ListHotKeyScanTasks ok = the 200s');
    my %got_main = map { $_ => $d->{$_} } grep { !/_bucket\{|^hotkey_operation_/ } keys %$d;
    for my $k (sort keys %want) {
        is($got_main{$k} // 0, $want{$k}, "delta $k = $want{$k}");
    }
    my @extra = grep { !exists $want{$_} } sort keys %got_main;
    is_deeply([ map { "$_ +$got_main{$_}" } @extra ], [], 'no other counter moved');
    # the requests counted = the requests sent
    my $sum = 0;
    $sum += $d->{$_} for grep { /^hotkey_requests_total/ } keys %$d;
    my $n = 0;
    $n += $_ for values %sent;
    is($sum, $n, "hotkey_requests_total grew by the $n API requests sent");
    # histogram: 2 more observations, spread over the buckets
    my $inf = $d->{'hotkey_store_request_duration_seconds_bucket{le="+Inf"}'} // 0;
    is($inf, 2, 'histogram +Inf bucket grew by the 2 store round trips');
    my $sum_d = ($S2->{'hotkey_store_request_duration_seconds_sum{}'} // 0)
              - ($S1->{'hotkey_store_request_duration_seconds_sum{}'} // 0);
    ok($sum_d > 0 && $sum_d < 2, "histogram _sum grew by a time in seconds (got $sum_d)");
    check_histogram($S2, 'after the mix');
    is_deeply(parse_prom($last_page->{body})->{errors}, [], 'after the mix: the page still parses');

    # both workers answered the mix
    my %pids;
    for (log_lines_from($plog, $lines0)) { $pids{$1}++ if m{^(\d+) \d+ /v2/} }
    cmp_ok(scalar keys %pids, '>=', 2, 'the mix was served by both workers')
        or diag(explain \%pids);
}

# ------------------------------------------------- concurrent traffic over both workers
# 6 processes, 1.5 s, new connections: a few keys (misses coalesced, then
# hits), bad parameters and no credentials; every answer counted once, and
# the store round trips counted = the EVALs Redis saw
sub redis_evals {
    my $info = $t->redis('INFO', 'commandstats') // '';
    my $n = 0;
    while ($info =~ /^cmdstat_(?:eval|evalsha):calls=(\d+)(.*)$/mg) {
        my ($calls, $rest) = ($1, $2);
        # a NOSCRIPT EVALSHA is a failed call, retried as EVAL
        $calls -= $1 if $rest =~ /failed_calls=(\d+)/;
        $n += $calls;
    }
    return $n;
}
{
    my $e0 = redis_evals();
    my $a = snapshot('before the flood');
    my @c;
    for my $i (0 .. 3) {
        push @c, { tag => "ok$i", procs => 1,
                   bytes => raw_request('GET', "$path?limit=" . (10 + $i) . '&offset=1',
                                        [ 'X-Auth-Token' => $user ]) };
    }
    push @c, { tag => 'bad', procs => 1,
               bytes => raw_request('GET', "$path?offset=-1", [ 'X-Auth-Token' => $user ]) };
    push @c, { tag => 'anon', procs => 1, bytes => raw_request('GET', $path) };
    my $res = flood($t, duration => 1.5, pause => 0.002, clients => \@c);
    my $b = snapshot('after the flood');
    my $e1 = redis_evals();
    my %st;
    for my $tag (keys %$res) {
        $st{$_} += $res->{$tag}{status}{$_} for keys %{ $res->{$tag}{status} };
    }
    my $n = 0;
    $n += $_ for values %st;
    note("flood answers: " . join ', ', map { "$_ x $st{$_}" } sort keys %st);
    cmp_ok($n, '>=', 100, 'the flood got many answers');
    my $d = deltas($a, $b);
    is($d->{ req_key(200, '') } // 0, $st{200} // -1, 'concurrent: 200s counted exactly');
    is($d->{ req_key(400, 'DCS.4062') } // 0, $st{400} // -1, 'concurrent: 400s counted exactly');
    is($d->{ req_key(401, 'DCS.1003') } // 0, $st{401} // -1, 'concurrent: 401s counted exactly');
    is($d->{ req_key(429, 'APIGW.0308') } // 0, $st{429} // 0, 'concurrent: 429s counted exactly');
    is($d->{'hotkey_rate_limited_total{}'} // 0, $st{429} // 0,
       'concurrent: hotkey_rate_limited_total == 429s');
    is($d->{'hotkey_auth_failures_total{reason="no_credentials"}'} // 0, $st{401} // -1,
       'concurrent: no_credentials counted exactly');
    my $hits = $d->{'hotkey_cache_results_total{result="hit"}'} // 0;
    my $miss = $d->{'hotkey_cache_results_total{result="miss"}'} // 0;
    my $other = 0;
    $other += $d->{"hotkey_cache_results_total{result=\"$_\"}"} // 0
        for qw(updating expired stale bypass);
    is($hits + $miss + $other, $st{200} // -1, 'concurrent: one cache result per 200');
    my $ok = $d->{'hotkey_store_requests_total{result="ok"}'} // 0;
    is($ok, $e1 - $e0, "concurrent: store round trips ok == EVALs Redis ran (" . ($e1 - $e0) . ')');
    is($d->{'hotkey_store_request_duration_seconds_count{}'} // 0, $ok,
       'concurrent: histogram count == store round trips');
    cmp_ok($ok, '>=', 4, 'concurrent: at least one round trip per key');
    check_histogram($b, 'after the flood');
}

# ------------------------------------------------- every worker shows the same page
{
    my $m0 = log_line_count($plog);
    my %bodies;
    my $a = snapshot('x');
    $bodies{ $last_page->{body} // '' }++ for 1;
    for (1 .. 15) { snapshot('x'); $bodies{ $last_page->{body} // '' }++ }
    is(scalar keys %bodies, 1, '16 pages on 16 connections, no traffic: all the same');
    my %pids;
    for (log_lines_from($plog, $m0)) { $pids{$1}++ if m{^(\d+) 200 /metrics} }
    cmp_ok(scalar keys %pids, '>=', 2, 'the pages came from both workers') or diag(explain \%pids);
}

# ------------------------------------------------- reload
{
    my $a = snapshot('before reload');
    my ($rc, $replaced) = $t->reload(http_conf());
    is($rc, 0, 'nginx -s reload');
    ok($replaced, 'new workers');
    my $b = snapshot('after reload');
    is_deeply(deltas($a, $b), {}, 'after reload: every counter kept');
    is_deeply(parse_prom($last_page->{body})->{errors}, [], 'after reload: the page parses');
    my $r = $t->request('GET', "$path?limit=5", [ 'X-Auth-Token' => $user ]);
    is($r->{status}, 200, 'after reload: a valid request');
    my $r2 = $t->get($path);
    is($r2->{status}, 401, 'after reload: a request without credentials');
    my $c = snapshot('after reload + 2');
    my $d = deltas($b, $c);
    my $cache = ($r->{headers}{'x-cache-status'} // '') eq 'HIT' ? 'hit' : 'miss';
    my %want = (req_key(200, '') => 1, req_key(401, 'DCS.1003') => 1,
                "hotkey_cache_results_total{result=\"$cache\"}" => 1,
                'hotkey_auth_failures_total{reason="no_credentials"}' => 1);
    if ($cache eq 'miss') {
        $want{'hotkey_store_requests_total{result="ok"}'} = 1;
        $want{'hotkey_store_request_duration_seconds_count{}'} = 1;
    }
    $want{'hotkey_operation_requests_total{operation="ListHotKeyScanTasks",result="ok"}'} = 1;
    $want{'hotkey_operation_requests_total{operation="ListHotKeyScanTasks",result="error"}'} = 1;
    my %got = map { $_ => $d->{$_} } grep { !/_bucket\{/ } keys %$d;
    is_deeply(\%got, \%want, 'after reload: the new workers count into the same counters');
}

$t->done;
