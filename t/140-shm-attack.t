#!/usr/bin/perl
# The shared-memory tables under attack (issue 9, items 2, 4 and 6),
# each state built on purpose:
#
#  (2) hash collisions.  The cache key of the list route is
#      "project|instance|offset|limit|status" hashed with nginx's 32-bit
#      ngx_murmur_hash2; t/tools/collide.c finds two offsets of one
#      instance whose keys collide (A, B), and offsets whose hash is above
#      theirs (C...).  Inserted A, B, C... into an empty zone, the rbtree
#      rotates B above A.  Both must stay HITs, with no store round trip.
#      The rate limiter hashes the principal (a token's sub) the same way:
#      two colliding subs, rotations, and the first caller's bucket must
#      not reset.
#  (4) a reload that swaps a cache zone's and a rate-limit zone's names
#      (same sizes): refused with a message naming the zone, or the zones
#      recreated; never an [alert]/[crit] (ngx_slab_free(): outside of
#      pool), and requests are served right afterwards.  A cache zone
#      named "hotkey_metrics" (today the metrics zone's fixed name) is
#      refused by nginx -t with a clear message or works beside the
#      metrics, never silently shares their memory.
#  (6) a zone too small for one answer (8 pages; a list of 1000 records):
#      the answer is served, and the entries already cached stay cached.
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

my $t = Hotkey::Test->new(workers => 2);
$t->allow_log(qr/exited on signal 9/);    # hard_stop
$t->start_redis;
my $P = $t->prefix;
my $port = $t->nginx_port;
my $redis = $t->redis_port;

my $pid = hex32();
my $iid = uuid();
$t->add_instance($iid, project => $pid);
my @tasks = $t->add_tasks($iid, map { { status => (qw(success failed running waiting))[$_ % 4] } } 1 .. 1000);
my $auth = auth_files($t);

sub tok { mint_token($t, project => $pid, actions => 'dcs:instance:listHotKey', @_) }

sub http {
    my (%o) = @_;
    my $zones = $o{zones} // "    hotkey_cache_zone hc:1m;\n    hotkey_rate_limit_zone rl:1m;\n";
    my $cache = $o{cache} // 'hc';
    my $limit = $o{limit} // 'rl';
    my $lim = $o{nolimit} ? '' : "hotkey_rate_limit $limit rate=1r/m burst=" . ($o{burst} // 3) . ';';
    my $extra = $o{extra} // '';
    return <<"EOF";
$zones
    upstream st {
        server 127.0.0.1:$redis;
        keepalive 8;
    }
    server {
        listen 127.0.0.1:$port;
        location /v2/ {
            hotkey_api on;
            hotkey_store st;
            hotkey_auth_token_keys $auth->{secret};
            hotkey_cache $cache;
            hotkey_cache_valid 60s;
            $lim
        }
        location = /purge { hotkey_cache_purge $cache; }
$extra
    }
EOF
}

sub get {
    my ($jwt, $q, %o) = @_;
    return $t->request('GET', $t->list_path($pid, $iid, $q),
                       [ 'X-Auth-Token' => $jwt ], undef, timeout => $o{timeout} // 5);
}
sub cs { $_[0]{headers}{'x-cache-status'} // '(none)' }

my $JWT = tok(sub => 'reader', rate => '1000r/s', burst => 100000);   # never limited

# --------------------------------------------------- (2) cache key collision
{
    my $n = 'cache collision';
    my $pre = "$pid|$iid|";
    my $suf = '|10|0';
    my ($x, $y, $h, @c);
    my $from = 0;
    for (1 .. 5) {
        ($x, $y, $h) = find_collision($t, $pre, $suf, $from);
        my $hs = murmur_range($t, $pre, $suf, 0, 3000);
        @c = grep { $_ != $x && $_ != $y && $hs->{$_} > $h } sort { $::a <=> $::b } keys %$hs;
        last if @c >= 8;
        $from = $y + 1;
    }
    note("offsets $x and $y: keys collide (murmur2 $h); then offsets @c[0 .. 7]");
    $t->start_nginx(http(nolimit => 1));
    my @first = map { [ $_, get($JWT, "offset=$_") ] } $x, $y, @c[0 .. 7];
    my @bad = grep { ($_->[1]{status} // 0) != 200 || cs($_->[1]) ne 'MISS' } @first;
    ok(!@bad, "$n: A, B and 8 more keys: 200 MISS each")
        or diag(join "\n", map { "offset $_->[0]: " . ($_->[1]{status} // 'none') . ' ' . cs($_->[1]) } @bad);
    my $calls = store_calls($t);
    for my $o ($x, $y, @c[0 .. 7]) {
        my $r = get($JWT, "offset=$o");
        is_json_ok($r, expected_list($iid, \@tasks, offset => $o), "$n: offset $o again: 200")
            if $o == $x || $o == $y;
        is(cs($r), 'HIT', "$n: offset $o again: HIT" . ($o == $x ? ' (A, first of the colliding pair)' : $o == $y ? ' (B)' : ''));
    }
    is(store_calls($t) - $calls, 0, "$n: no store round trip for the second pass");
    hard_stop($t);
}

# --------------------------------------------------- (2) rate limiter collision
{
    my $n = 'limiter collision';
    my ($x, $y, $h) = find_collision($t, 'caller-', '');
    my $hs = murmur_range($t, 'caller-', '', 0, 3000);
    my @c = grep { $_ != $x && $_ != $y && $hs->{$_} > $h } sort { $::a <=> $::b } keys %$hs;
    note("subs caller-$x and caller-$y collide (murmur2 $h)");
    $t->start_nginx(http(burst => 2));
    my $ja = tok(sub => "caller-$x");
    my $jb = tok(sub => "caller-$y");
    my @st = map { get($ja, 'limit=1')->{status} } 1 .. 3;
    is("@st", '200 200 429', "$n: A's burst of 2 is spent (200 200 429)");
    is(get($jb, 'limit=1')->{status}, 200, "$n: B, same hash, has its own bucket (200)");
    my @cs = map { get(tok(sub => "caller-$_"), 'limit=1')->{status} } @c[0 .. 5];
    is("@cs", join(' ', ('200') x 6), "$n: 6 more callers (200 each)");
    my $r = get($ja, 'limit=1');
    is($r->{status}, 429, "$n: A is still limited after the rotations (its bucket was not lost)")
        or diag('RateLimit: ' . ($r->{headers}{ratelimit} // '(none)'));
    is(get($jb, 'limit=1')->{status}, 200, "$n: B's second request (200)");
    is(get($jb, 'limit=1')->{status}, 429, "$n: B's third request (429)");
    hard_stop($t);
}

# --------------------------------------------------- (6) one answer bigger than the zone
{
    my $n = 'answer bigger than the zone';
    $t->start_nginx(http(zones => "    hotkey_cache_zone tiny:32k;\n", cache => 'tiny', nolimit => 1));
    my @small = map { "offset=$_&limit=1" } 0 .. 4;
    my @r = map { get($JWT, $_) } @small;
    is(join(' ', map { cs($_) } @r), 'MISS MISS MISS MISS MISS', "$n: 5 small answers cached");
    @r = map { get($JWT, $_) } @small;
    is(join(' ', map { cs($_) } @r), 'HIT HIT HIT HIT HIT', "$n: and HITs");
    my $calls = store_calls($t);
    for my $i (1 .. 2) {
        my $r = get($JWT, 'limit=1000');
        is_json_ok($r, expected_list($iid, \@tasks, limit => 1000),
                   "$n: limit=1000 (" . length($r->{body} // '') . " bytes), request $i: 200, every record");
    }
    @r = map { get($JWT, $_) } @small;
    is(join(' ', map { cs($_) } @r), 'HIT HIT HIT HIT HIT',
       "$n: the 5 small answers are still cached (the zone was not emptied)");
    is(store_calls($t) - $calls, 2, "$n: 2 store round trips (the big answers only)");
    hard_stop($t);
}

# --------------------------------------------------- (4) swapped zone names on reload
{
    my $n = 'swapped zone names';
    my $conf1 = http(zones => "    hotkey_cache_zone alpha:1m;\n    hotkey_rate_limit_zone beta:1m;\n",
                     cache => 'alpha', limit => 'beta', burst => 3);
    my $conf2 = http(zones => "    hotkey_cache_zone beta:1m;\n    hotkey_rate_limit_zone alpha:1m;\n",
                     cache => 'beta', limit => 'alpha', burst => 3);
    $t->start_nginx($conf1);
    # fill both zones: cache entries, callers' buckets
    for my $i (0 .. 19) {
        my $r = get(tok(sub => "filler-$i"), "offset=$i&limit=2");
        die "fill: $r->{status}" unless ($r->{status} // 0) == 200;
    }
    my @old = $t->worker_pids;
    my $mark = $t->log_mark;
    my ($rc, $replaced) = $t->reload($conf2);
    is($rc, 0, "$n: nginx -s reload sent");
    my $since = sub { $t->log_since($mark) };
    if ($replaced) {
        pass("$n: the reload took effect (zones recreated): the old workers left");
        my @r = map { get($JWT, "offset=$_&limit=2", timeout => 3) } 0 .. 5, 0 .. 5;
        my @st = map { ($_->{status} // 'none') . ' ' . cs($_) } @r;
        is(join(', ', @st[0 .. 5]), join(', ', ('200 MISS') x 6),
           "$n: after the reload, 6 keys: 200 MISS (the old cache's entries are gone with it)");
        is(join(', ', @st[6 .. 11]), join(', ', ('200 HIT') x 6), "$n: and then HITs");
        is_json_ok($r[7], expected_list($iid, \@tasks, offset => 1, limit => 2), "$n: the right JSON");
        # more than the 1m zone holds: the cache evicts its oldest entries
        my @big = map { get($JWT, "offset=$_&limit=1000", timeout => 3) } 0 .. 7;
        my @bs = map { ($_->{status} // 'none') . ' ' . length($_->{body} // '') } @big;
        is(scalar(grep { ($_->{status} // 0) == 200 } @big), 8,
           "$n: 8 answers of ~170 KB each (the zone evicts): 200 each") or diag("@bs");
        my $jl = tok(sub => 'limited-after-reload');
        my @ls = map { get($jl, 'limit=1', timeout => 3)->{status} // 'none' } 1 .. 4;
        is("@ls", '200 200 200 429', "$n: the rate limit is enforced (burst 3)");
        my $fl = get(tok(sub => 'filler-0'), 'limit=1', timeout => 3);
        ok(($fl->{status} // 0) == 200 || ($fl->{status} // 0) == 429,
           "$n: an old caller gets an answer");
        my $pr = $t->request('POST', "/purge?instance_id=$iid", [], '', timeout => 3);
        is($pr->{status}, 200, "$n: a purge after the reload");
        my $r = get($JWT, 'offset=0&limit=2', timeout => 3);
        is(($r->{status} // 'none') . ' ' . cs($r), '200 MISS', "$n: purged, then MISS");
    } else {
        my $log = $since->();
        like($log, qr/\[emerg\].*(alpha|beta)/,
             "$n: the reload was refused with a message naming the zone");
        # a refused reload is logged as [emerg] by the master: expected here
        $t->allow_log(qr/\[emerg\].*(alpha|beta)/);
        my $r = get($JWT, 'offset=0&limit=2', timeout => 3);
        is($r->{status}, 200, "$n: the old configuration keeps serving");
    }
    my @left = grep { Hotkey::Test::_alive($_) } @old;
    is(scalar(@left), 0, "$n: the old workers exited") if $replaced;
    my @bad = grep { /\[(alert|crit)\]|outside of pool|exited on signal/ } split /\n/, $since->();
    ok(!@bad, "$n: no [alert], [crit], ngx_slab_free() or crash in the error log")
        or diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
    # whatever happened, this part of the log is accounted for above
    $t->allow_log(qr/\[(alert|crit)\]|outside of pool|exited on signal/) if @bad;
    hard_stop($t);
}

# --------------------------------------------------- (4) a user zone named hotkey_metrics
{
    my $n = 'zone named hotkey_metrics';
    my $metrics = "        location = /metrics { hotkey_metrics; }\n";
    my $conf = http(zones => "    hotkey_cache_zone hotkey_metrics:64k;\n", cache => 'hotkey_metrics',
                    nolimit => 1, extra => $metrics);
    my ($rc, $out) = $t->nginx_t($conf);
    if ($rc != 0) {
        like($out, qr/hotkey_metrics/, "$n: nginx -t refuses it, naming the zone");
        unlike($out, qr/signal|core dumped/, "$n: nginx -t does not crash");
    } else {
        pass("$n: nginx -t accepts it");
        my $mark = $t->log_mark;
        $t->start_nginx($conf);
        my @r = map { get($JWT, "offset=$_&limit=2", timeout => 3) } 0 .. 3, 0 .. 3;
        is(join(' ', map { ($_->{status} // 'none') . '/' . cs($_) } @r),
           join(' ', ('200/MISS') x 4, ('200/HIT') x 4),
           "$n: the cache works (MISS then HIT)");
        my $m = $t->request('GET', '/metrics', [], undef, timeout => 3);
        is($m->{status}, 200, "$n: the metrics page answers");
        my ($sum) = 0;
        $sum += $1 while ($m->{body} // '') =~ /^hotkey_requests_total\{[^}]*status="200"[^}]*\} (\d+)/mg;
        is($sum, 8, "$n: the metrics count the 8 requests");
        my ($hits) = ($m->{body} // '') =~ /^hotkey_cache_results_total\{result="hit"\} (\d+)/m;
        is($hits, 4, "$n: and the 4 hits");
        my @bad = grep { /\[(alert|crit)\]|outside of pool|exited on signal/ }
                  split /\n/, $t->log_since($mark);
        ok(!@bad, "$n: no [alert], [crit] or crash") or diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
        $t->allow_log(qr/\[(alert|crit)\]|outside of pool|exited on signal/) if @bad;
        hard_stop($t);
    }
}

$t->done;
