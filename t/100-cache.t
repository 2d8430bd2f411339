#!/usr/bin/perl
# The shared-memory cache of the list route (hotkey_cache*), with 2 workers.
#
# Store round trips are counted by Redis itself: CONFIG RESETSTAT, then the
# cmdstat_eval(sha):calls=N lines of INFO commandstats (a list is one
# EVALSHA, or EVAL the first time).
# Where a test needs the store to be slow (coalescing, "STALE at once"),
# Redis is held with CLIENT PAUSE <ms> ALL: the EVAL a worker sends waits
# in Redis until the pause ends, so nginx really has a fetch in flight.
#
# One nginx, several servers (one port each), one zone per behaviour so
# that the tests do not evict each other:
#   main  hk    valid 60s, errors_valid 1s, purge at /purge, bypass off
#   exp   exp   valid 1s                      (expiry, no stale-if-error)
#   swr   swr   valid 1s, stale_while_revalidate 30s
#   sie   sie   valid 1s, stale_if_error 60s
#   byp   byp   valid 60s, bypass on
#   tiny  tiny  tiny:32k (8 pages), valid 60s  (eviction)
#   nocache     no hotkey_cache                (control for the counting)
# Every request goes through req(), which remembers the X-Cache-Status it
# got; the access log ($hotkey_cache_status) is compared with that at the
# end.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use IO::Socket::INET;
use Hotkey::Test qw(:all);

my $t = Hotkey::Test->new(workers => 2);
$t->start_redis;
my $P = $t->prefix;

my $NX = 'This DCS instance does not exist.';
my $NS = 'Does not support hotkey analyze.';
my $IE = 'Internal service error.';

my %port = (main => $t->nginx_port);
$port{$_} = $t->port($_) for qw(exp swr sie byp tiny nocache);

# ------------------------------------------------------------ config
my $conf = <<"EOF";
    log_format hkcache '\$server_port \$request_method \$request_uri \$status "\$hotkey_cache_status" \$pid';
    access_log $P/logs/cache.log hkcache;
    hotkey_cache_zone hk:10m;
    hotkey_cache_zone exp:1m;
    hotkey_cache_zone swr:1m;
    hotkey_cache_zone sie:1m;
    hotkey_cache_zone byp:1m;
    hotkey_cache_zone tiny:32k;
EOF
my %extra = (
    main => "hotkey_cache hk; hotkey_cache_valid 60s; hotkey_cache_errors_valid 1s;",
    exp  => "hotkey_cache exp; hotkey_cache_valid 1s;",
    swr  => "hotkey_cache swr; hotkey_cache_valid 1s; hotkey_cache_stale_while_revalidate 30s;",
    sie  => "hotkey_cache sie; hotkey_cache_valid 1s; hotkey_cache_stale_if_error 60s;",
    byp  => "hotkey_cache byp; hotkey_cache_valid 60s; hotkey_cache_bypass on;",
    tiny => "hotkey_cache tiny; hotkey_cache_valid 60s;",
    nocache => '',
);
for my $s (sort keys %extra) {
    $conf .= $t->api_server(
        port => $port{$s}, extra => "            $extra{$s}",
        $s eq 'main'
          ? (server_extra => "        location = /purge { hotkey_cache_purge hk; }")
          : ());
}
$t->wait_ports(map { $port{$_} } grep { $_ ne 'main' } sort keys %port);

# ------------------------------------------------------------ helpers
my @seen;    # "port METHOD uri X-Cache-Status" of every request sent

sub req {
    my ($srv, $method, $path, @h) = @_;
    my $r = $t->request($method, $path, [@h], $method eq 'GET' ? undef : '',
                        port => $port{$srv});
    push @seen, "$port{$srv} $method $path $r->{status} "
                . ($r->{headers}{'x-cache-status'} // '-')
        if defined $r->{status};
    return $r;
}

# list($srv, $pid, $iid, $query, @headers)
sub list {
    my ($srv, $pid, $iid, $q, @h) = @_;
    return req($srv, 'GET', $t->list_path($pid, $iid, $q), @h);
}

sub xcs { $_[0]{headers}{'x-cache-status'} // '(none)' }

sub reset_stats { $t->redis('CONFIG', 'RESETSTAT') }

sub evals {
    my $info = $t->redis('INFO', 'commandstats');
    my $n = 0;
    $n += $1 while $info =~ /^cmdstat_(?:eval|evalsha):calls=(\d+)/mg;
    return $n;
}

# Opens $n connections first, then sends one request on each, then reads
# all the answers (through the harness's response reader).
sub concurrent {
    my ($srv, $path, $n) = @_;
    my @socks;
    for (1 .. $n) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port{$srv},
                                      Proto => 'tcp', Timeout => 5)
            or die "connect: $!";
        binmode $s;
        push @socks, $s;
    }
    my $req = "GET $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    for my $s (@socks) {
        syswrite($s, $req) == length $req or die "write: $!";
    }
    my @res;
    for my $s (@socks) {
        my $st = { sock => $s, buf => '', eof => 0, deadline => time + 10 };
        my $r = Hotkey::Test::_read_response($st, 0);
        close $s;
        push @seen, "$port{$srv} GET $path $r->{status} "
                    . ($r->{headers}{'x-cache-status'} // '-')
            if defined $r->{status};
        push @res, $r;
    }
    return @res;
}

# ------------------------------------------------------------ fixtures
my $pid  = hex32();
my $pid2 = hex32();          # another project
my %inst;                    # name => [iid, \@tasks]
for my $name (qw(control hit coal iso purge byp exp swr sie)) {
    my $iid = uuid();
    $t->add_instance($iid, project => $pid);
    my @tasks = $t->add_tasks($iid, map { { status => (qw(waiting running success failed))[$_ % 4] } } 1 .. 25);
    $inst{$name} = [$iid, \@tasks];
}
# a second instance of the other project (so that it exists in the store)
my $other_iid = uuid();
$t->add_instance($other_iid, project => $pid2);

$t->start_nginx($conf);
my $mark0 = $t->log_mark;

# ------------------------------------------------------------ control: counting works
{
    my ($iid, $tasks) = @{ $inst{control} };
    reset_stats();
    my $r1 = list('nocache', $pid, $iid);
    my $r2 = list('nocache', $pid, $iid);
    is_json_ok($r2, expected_list($iid, $tasks), 'cache off: 200');
    is(evals(), 2, 'cache off: two requests, two EVALs counted by Redis (the counting works)');
    ok(!defined $r2->{headers}{'x-cache-status'}, 'cache off: no X-Cache-Status header');
}

# ------------------------------------------------------------ MISS then HIT, no round trip
my ($hit_iid, $hit_tasks) = @{ $inst{hit} };
{
    reset_stats();
    my $r = list('main', $pid, $hit_iid);
    is(xcs($r), 'MISS', 'first request: X-Cache-Status MISS');
    is_json_ok($r, expected_list($hit_iid, $hit_tasks), 'first request: the right 200 body');
    ok(!defined $r->{headers}{age}, 'MISS: no Age header');
    is(evals(), 1, 'MISS: one store round trip');

    reset_stats();
    my @h = map { list('main', $pid, $hit_iid) } 1 .. 6;
    is_deeply([ map { xcs($_) } @h ], [ ('HIT') x 6 ], 'six more requests: all HIT');
    is(scalar(grep { ($_->{body} // '') eq $r->{body} } @h), 6, 'HIT: byte-identical body');
    is(scalar(grep { ($_->{headers}{age} // '') =~ /^\d+$/ } @h), 6, 'HIT: an Age header (seconds)');
    like($h[0]{headers}{'content-type'} // '', qr{^application/json}, 'HIT: Content-Type application/json');
    is(evals(), 0, 'HITs: no store round trip at all');

    # HEAD of a cached answer
    my $hd = req('main', 'HEAD', $t->list_path($pid, $hit_iid));
    is($hd->{status}, 200, 'HEAD of a cached answer: 200');
    is($hd->{body}, '', 'HEAD of a cached answer: no body');
    is($hd->{headers}{'content-length'}, length($r->{body}), 'HEAD of a cached answer: the Content-Length of the body');
    is(evals(), 0, 'HEAD: served from the cache');

    # the cache holds the answer, not the store: a change is not seen while fresh
    $t->add_task($hit_iid, status => 'waiting', created_at => 2000000000000);
    my $r3 = list('main', $pid, $hit_iid);
    is(xcs($r3), 'HIT', 'store changed: still HIT within hotkey_cache_valid');
    is($r3->{body}, $r->{body}, 'store changed: the cached body (not the new data)');
}

# ------------------------------------------------------------ 50 concurrent misses
{
    my ($iid, $tasks) = @{ $inst{coal} };
    my $path = $t->list_path($pid, $iid, 'limit=20');
    reset_stats();
    # hold Redis for 800 ms: the first fetch stays in flight while the 50
    # requests arrive (well below the 1s read timeout)
    $t->redis('CLIENT', 'PAUSE', 800, 'ALL');
    my $t0 = time;
    my @res = concurrent('main', $path, 50);
    my $el = time - $t0;
    is(scalar(grep { ($_->{status} // 0) == 200 } @res), 50, '50 concurrent misses: 50 answers 200')
        or diag(join ', ', map { $_->{status} // "none ($_->{error})" } @res);
    my $exp = expected_list($iid, $tasks, limit => 20);
    my $good = grep { ref $_->{json} eq 'HASH' && eq_deeply_json($_->{json}, $exp) } @res;
    is($good, 50, '50 concurrent misses: every body is the right list');
    my %bodies = map { ($_->{body} // '') => 1 } @res;
    is(scalar keys %bodies, 1, '50 concurrent misses: one and the same body');
    is(evals(), 1, '50 concurrent misses on one key (2 workers): exactly one store round trip');
    my %st;
    $st{ xcs($_) }++ for @res;
    is($st{MISS} // 0, 1, 'exactly one of them is MISS')
        or diag(join ', ', map { "$_=$st{$_}" } sort keys %st);
    cmp_ok($el, '>=', 0.5, "they did wait for the held store (took ${\ sprintf '%.2f', $el}s)");
    cmp_ok($el, '<', 3, 'and were woken when it answered, not at a timeout');
}

# ------------------------------------------------------------ isolation, key parts
{
    my ($iid, $tasks) = @{ $inst{iso} };
    my $r0 = list('main', $pid, $iid);
    is(xcs($r0), 'MISS', 'isolation: first request MISS');

    reset_stats();
    my $o = list('main', $pid2, $iid);
    is_json_error($o, 404, 'DCS.3022', $NX,
                  "another project's request for a cached instance: 404 DCS.3022, not the cached body");
    isnt(xcs($o), 'HIT', "another project's request: not a HIT");
    is(evals(), 1, "another project's request: asks the store");
    $o = list('main', $pid2, $iid);
    is_json_error($o, 404, 'DCS.3022', $NX, "another project's request again: still 404");
    my $d = list('main', uuid(), $iid);
    is_json_error($d, 404, 'DCS.3022', $NX, 'a dashed-UUID project: 404 too');

    reset_stats();
    for my $q ('limit=10', 'offset=0', 'offset=0&limit=10', 'foo=1', 'limit=10&foo=bar&zzz',
               'offset=00&limit=010')
    {
        my $r = list('main', $pid, $iid, $q);
        is(xcs($r), 'HIT', "?$q shares the entry of the plain request (HIT)");
        is($r->{body}, $r0->{body}, "?$q: the same body");
    }
    is(evals(), 0, 'equivalent queries: no store round trip');

    reset_stats();
    my %q = ('limit=5' => { limit => 5 }, 'limit=11' => { limit => 11 },
             'offset=1' => { offset => 1 }, 'status=success' => { status => 'success' },
             'status=success&limit=5' => { status => 'success', limit => 5 },
             'offset=1&limit=5' => { offset => 1, limit => 5 });
    for my $q (sort keys %q) {
        my $r = list('main', $pid, $iid, $q);
        is(xcs($r), 'MISS', "?$q is a different entry (MISS)");
        is_json_ok($r, expected_list($iid, $tasks, %{ $q{$q} }), "?$q: its own right body");
    }
    is(evals(), scalar keys %q, 'different parameters: one round trip each');
    reset_stats();
    for my $q (sort keys %q) {
        my $r = list('main', $pid, $iid, $q);
        ok(xcs($r) eq 'HIT' && ref $r->{json} eq 'HASH'
           && eq_deeply_json($r->{json}, expected_list($iid, $tasks, %{ $q{$q} })),
           "?$q again: HIT with its own body");
    }
    is(evals(), 0, 'different parameters, again: all from the cache');

    my $r = list('main', $pid2, $other_iid);
    is_json_ok($r, { instance_id => $other_iid, count => 0, records => [] },
               'the other project, its own instance: 200');
}

# ------------------------------------------------------------ hotkey_cache_errors_valid (1s)
{
    my $u = uuid();
    reset_stats();
    my $e1 = list('main', $pid, $u);
    is_json_error($e1, 404, 'DCS.3022', $NX, 'unknown instance: 404 DCS.3022');
    is(xcs($e1), 'MISS', 'unknown instance: MISS');
    my $e2 = list('main', $pid, $u);
    is_json_error($e2, 404, 'DCS.3022', $NX, 'unknown instance again: 404 DCS.3022');
    is(xcs($e2), 'HIT', 'unknown instance again, within hotkey_cache_errors_valid: HIT');
    is(evals(), 1, 'the 404 is cached: one round trip for two requests');

    # the 404 stays for its window even when the instance appears meanwhile
    $t->add_instance($u, project => $pid);
    my $e3 = list('main', $pid, $u);
    is($e3->{status}, 404, 'instance created within the window: still the cached 404');

    # 400 DCS.4922 (non-LFU instance) is cached the same way
    my $nl = uuid();
    $t->add_instance($nl, project => $pid, policy => 'allkeys-lru');
    reset_stats();
    is_json_error(list('main', $pid, $nl), 400, 'DCS.4922', $NS, 'non-LFU instance: 400 DCS.4922');
    my $n2 = list('main', $pid, $nl);
    is_json_error($n2, 400, 'DCS.4922', $NS, 'non-LFU instance again: 400 DCS.4922');
    is(xcs($n2), 'HIT', 'non-LFU instance again: HIT');
    is(evals(), 1, 'the 400 DCS.4922 is cached: one round trip');

    sleep 1.3;
    reset_stats();
    my $e4 = list('main', $pid, $u);
    is_json_ok($e4, { instance_id => $u, count => 0, records => [] },
               'after hotkey_cache_errors_valid: the store is asked again (200, the instance exists now)');
    is(evals(), 1, 'after the error window: one new round trip');

    # Age grows: the entry of the "hit" instance is more than 1s old now
    my $h = list('main', $pid, $hit_iid);
    is(xcs($h), 'HIT', 'an entry 1.3s+ old, valid 60s: HIT');
    cmp_ok($h->{headers}{age} // -1, '>=', 1, 'its Age is at least 1');
}

# ------------------------------------------------------------ purge
{
    my ($iid, $tasks) = @{ $inst{purge} };
    list('main', $pid, $iid, $_) for undef, 'limit=5', 'status=success';
    my $r = list('main', $pid, $iid);
    is(xcs($r), 'HIT', 'purge: the instance is cached (HIT)');

    my $p = req('main', 'POST', "/purge?instance_id=$iid");
    is($p->{status}, 200, 'POST /purge?instance_id=<uuid>: 200');
    like($p->{headers}{'content-type'} // '', qr{^application/json}, 'purge: JSON Content-Type');
    is_deeply($p->{json}, { purged => 3 }, 'purge: {"purged":3} (plain, limit=5, status=success)')
        or diag("body: " . ($p->{body} // ''));

    reset_stats();
    $r = list('main', $pid, $iid);
    is(xcs($r), 'MISS', 'after purge: MISS');
    is_json_ok($r, expected_list($iid, $tasks), 'after purge: the right body');
    is(evals(), 1, 'after purge: one round trip');
    $r = list('main', $pid, $iid, 'limit=5');
    is(xcs($r), 'MISS', 'after purge: the other entries of the instance are gone too');
    $r = list('main', $pid, $hit_iid);
    is(xcs($r), 'HIT', 'purge leaves other instances alone');

    $p = req('main', 'DELETE', "/purge?instance_id=$iid");
    is_deeply($p->{json}, { purged => 2 }, 'DELETE /purge: {"purged":2}') or diag($p->{body} // '');
    $p = req('main', 'POST', '/purge?instance_id=' . uuid());
    is_deeply($p->{json}, { purged => 0 }, 'purge of an instance with nothing cached: {"purged":0}')
        or diag($p->{body} // '');
    $p = req('main', 'GET', "/purge?instance_id=$iid");
    is($p->{status}, 405, 'GET /purge: 405');
    $p = req('main', 'POST', '/purge?instance_id=not-a-uuid');
    is_json_error($p, 400, 'DCS.4061', 'Invalid instance ID format.', 'purge with a bad instance_id: 400 DCS.4061');
    $p = req('main', 'POST', '/purge');
    is($p->{status}, 400, 'purge without instance_id: 400');
}

# ------------------------------------------------------------ bypass
{
    my ($iid, $tasks) = @{ $inst{byp} };
    is(xcs(list('byp', $pid, $iid)), 'MISS', 'bypass on: first request MISS');
    is(xcs(list('byp', $pid, $iid)), 'HIT', 'bypass on: then HIT');

    my $new = $t->add_task($iid, status => 'running', created_at => 2000000000000);
    my @t2 = (@$tasks, $new);
    reset_stats();
    my $b = list('byp', $pid, $iid, undef, 'Cache-Control' => 'no-cache');
    is(xcs($b), 'BYPASS', 'bypass on, Cache-Control: no-cache: BYPASS');
    is_json_ok($b, expected_list($iid, \@t2), 'BYPASS: fresh data from the store');
    is(evals(), 1, 'BYPASS: one round trip');
    my $h = list('byp', $pid, $iid);
    is(xcs($h), 'HIT', 'after BYPASS: HIT');
    is_json_ok($h, expected_list($iid, \@t2), 'BYPASS refreshed the entry: the HIT has the new data');

    reset_stats();
    $b = list('byp', $pid, $iid, undef, 'Pragma' => 'no-cache');
    is(xcs($b), 'BYPASS', 'bypass on, Pragma: no-cache: BYPASS');
    $b = list('byp', $pid, $iid, undef, 'Cache-Control' => 'max-age=0, No-Cache');
    is(xcs($b), 'BYPASS', 'bypass on, Cache-Control: max-age=0, No-Cache: BYPASS');
    is(evals(), 2, 'each BYPASS is a round trip');
    $b = list('byp', $pid, $iid, undef, 'Cache-Control' => 'max-age=60');
    is(xcs($b), 'HIT', 'bypass on, Cache-Control without no-cache: HIT');

    # bypass off (the default): the header is ignored
    reset_stats();
    my $m = list('main', $pid, $hit_iid, undef, 'Cache-Control' => 'no-cache');
    is(xcs($m), 'HIT', 'bypass off: Cache-Control: no-cache is ignored (HIT)');
    $m = list('main', $pid, $hit_iid, undef, 'Pragma' => 'no-cache');
    is(xcs($m), 'HIT', 'bypass off: Pragma: no-cache is ignored (HIT)');
    is(evals(), 0, 'bypass off: no round trip');
}

# ------------------------------------------------------------ expiry (valid 1s)
my ($exp_iid, $exp_tasks) = @{ $inst{exp} };
my ($sie_iid, $sie_tasks) = @{ $inst{sie} };
my ($swr_iid, $swr_tasks) = @{ $inst{swr} };
my ($sie_body, $exp_body, $swr_body);
{
    my $r = list('exp', $pid, $exp_iid);
    is(xcs($r), 'MISS', 'valid 1s: MISS');
    is(xcs(list('exp', $pid, $exp_iid)), 'HIT', 'valid 1s: HIT at once');
    my $s = list('sie', $pid, $sie_iid);
    is(xcs($s), 'MISS', 'stale-if-error server: MISS');
    $sie_body = $s->{body};
    my $w = list('swr', $pid, $swr_iid);
    is(xcs($w), 'MISS', 'stale-while-revalidate server: MISS');
    is_json_ok($w, expected_list($swr_iid, $swr_tasks), 'stale-while-revalidate server: right body');
    $swr_body = $w->{body};

    sleep 1.2;
    my $new = $t->add_task($exp_iid, status => 'failed', created_at => 2000000000000);
    push @$exp_tasks, $new;
    reset_stats();
    $r = list('exp', $pid, $exp_iid);
    is(xcs($r), 'EXPIRED', 'past hotkey_cache_valid 1s: EXPIRED');
    is_json_ok($r, expected_list($exp_iid, $exp_tasks), 'EXPIRED: the new data from the store');
    is(evals(), 1, 'EXPIRED: one new round trip');
    $r = list('exp', $pid, $exp_iid);
    is(xcs($r), 'HIT', 'after EXPIRED: HIT again');
    is_json_ok($r, expected_list($exp_iid, $exp_tasks), 'and the HIT has the new data');
    is(evals(), 1, 'no further round trip');
    $exp_body = $r->{body};
}

# ------------------------------------------------------------ stale-while-revalidate
{
    # the entry (valid 1s) is 1.2s+ old now; new data goes into the store
    my $new = $t->add_task($swr_iid, status => 'success', created_at => 2000000000000);
    my @t2 = (@$swr_tasks, $new);
    reset_stats();
    # the store is held for 800 ms: a STALE answer must not wait for it
    $t->redis('CLIENT', 'PAUSE', 800, 'ALL');
    my $t0 = time;
    my $s = list('swr', $pid, $swr_iid);
    my $el = time - $t0;
    is(xcs($s), 'STALE', 'past valid, within stale_while_revalidate: STALE');
    is($s->{status}, 200, 'STALE: 200');
    is($s->{body}, $swr_body, 'STALE: the old body');
    cmp_ok($s->{headers}{age} // -1, '>=', 1, 'STALE: an Age header of at least 1');
    cmp_ok($el, '<', 0.5, sprintf('STALE: served at once while the store is held (%.3fs)', $el));
    my @u = map { list('swr', $pid, $swr_iid) } 1 .. 3;
    is_deeply([ map { xcs($_) } @u ], [ ('UPDATING') x 3 ],
              'during the background refresh: UPDATING');
    is(scalar(grep { ($_->{body} // '') eq $swr_body } @u), 3, 'UPDATING: the old body');
    sleep 1.2;    # the pause ends, the background refresh lands
    is(evals(), 1, 'one background refresh: one round trip for STALE + 3 UPDATING');
    reset_stats();
    my $h = list('swr', $pid, $swr_iid);
    is(xcs($h), 'HIT', 'after the refresh: HIT');
    is_json_ok($h, expected_list($swr_iid, \@t2), 'after the refresh: the new data');
    is(evals(), 0, 'after the refresh: no round trip');
}

# ------------------------------------------------------------ eviction in a tiny zone
{
    my $big = uuid();
    $t->add_instance($big, project => $pid);
    my @bt = $t->add_tasks($big, map { { status => (qw(waiting running success failed))[$_ % 4] } } 1 .. 150);
    my $m = $t->log_mark;
    my ($ok, $right, $hits) = (0, 0, 0);
    my @bad;
    for my $off (0 .. 299) {
        my $r = list('tiny', $pid, $big, "offset=$off&limit=1000");
        $ok++ if ($r->{status} // 0) == 200;
        if (ref $r->{json} eq 'HASH'
            && eq_deeply_json($r->{json}, expected_list($big, \@bt, offset => $off, limit => 1000)))
        {
            $right++;
        } else {
            push @bad, "offset=$off: " . ($r->{status} // 'none') . ' ' . substr($r->{body} // $r->{error} // '', 0, 100);
        }
        # small answers (an empty page) fit: asked twice, the second is a HIT
        if ($off >= 150) {
            my $r2 = list('tiny', $pid, $big, "offset=$off&limit=1000");
            $hits++ if xcs($r2) eq 'HIT' && ($r2->{body} // '') eq ($r->{body} // 'x');
        }
    }
    is($ok, 300, 'tiny zone (32k), 300 keys with bodies up to ~30 KB: 300 answers 200');
    is($right, 300, 'tiny zone: every body right') or diag(join "\n", @bad[0 .. ($#bad < 5 ? $#bad : 5)]);
    is($hits, 150, 'tiny zone: small entries are cached (asked twice: HIT)');
    reset_stats();
    my $last = list('tiny', $pid, $big, 'offset=299&limit=1000');
    is(xcs($last), 'HIT', 'tiny zone: the most recent key is still a HIT');
    my $early = list('tiny', $pid, $big, 'offset=150&limit=1000');
    is(xcs($early), 'MISS', 'tiny zone: an early key was evicted (MISS again)');
    is_json_ok($early, expected_list($big, \@bt, offset => 150, limit => 1000), 'the evicted key: right body');
    is(evals(), 1, 'tiny zone: the evicted key made a round trip, the recent one none');
    my $log = $t->log_since($m);
    my @errs = grep { /\[(error|crit|alert|emerg)\]/ } split /\n/, $log;
    is(scalar @errs, 0, 'tiny zone: no [error]/[crit]/[alert] lines in the error log')
        or diag(join "\n", @errs[0 .. ($#errs < 5 ? $#errs : 5)]);
}

# ------------------------------------------------------------ nginx -s reload
{
    my $r = list('main', $pid, $hit_iid);
    is(xcs($r), 'HIT', 'before reload: HIT');
    my ($rc, $replaced) = $t->reload;
    ok($rc == 0 && $replaced, 'nginx -s reload: new workers');
    reset_stats();
    my $r2 = list('main', $pid, $hit_iid);
    is(xcs($r2), 'HIT', 'after reload: still HIT (the zone is kept)');
    is($r2->{body}, $r->{body}, 'after reload: the same body');
    is(evals(), 0, 'after reload: no round trip');
}

# ------------------------------------------------------------ store down: stale-if-error, 500s
{
    # the sie entry and the exp entry are past their 1s validity now
    sleep 1.1;
    my $k500 = uuid();
    $t->add_instance($k500, project => $pid);
    my @k500t = $t->add_tasks($k500, map { {} } 1 .. 3);
    $t->stop_redis(save => 1);

    my $s = list('sie', $pid, $sie_iid);
    is($s->{status}, 200, 'store stopped, stale_if_error: 200');
    is(xcs($s), 'STALE', 'store stopped, stale_if_error: STALE');
    is($s->{body}, $sie_body, 'store stopped, stale_if_error: the old body');
    ok(defined $s->{headers}{age}, 'stale_if_error STALE: an Age header');

    my $e = list('exp', $pid, $exp_iid);
    is_json_error($e, 500, 'DCS.5000', $IE, 'store stopped, expired entry, no stale_if_error: 500 DCS.5000');
    ok(defined $e->{headers}{'x-cache-status'}, 'the 500 carries X-Cache-Status too (' . xcs($e) . ')');

    my $f = list('main', $pid, $k500);
    is_json_error($f, 500, 'DCS.5000', $IE, 'store stopped, never cached key: 500 DCS.5000');
    is(xcs($f), 'MISS', 'that 500: MISS');

    $t->start_redis;
    reset_stats();
    my $g = list('main', $pid, $k500);
    is(xcs($g), 'MISS', 'store back: the 500 was not cached (MISS)');
    is_json_ok($g, expected_list($k500, \@k500t), 'store back: 200 with the right body');
    is(evals(), 1, 'store back: one round trip');

    # and once the store is back (past any hold-off) everything recovers
    sleep 1.1;
    my $g2 = list('main', $pid, $k500);
    is_json_ok($g2, expected_list($k500, \@k500t), 'store back, 1.1s later: 200');
    my $s2 = list('sie', $pid, $sie_iid);
    is_json_ok($s2, expected_list($sie_iid, $sie_tasks), 'store back: stale_if_error server 200');
    ok(xcs($s2) eq 'EXPIRED' || xcs($s2) eq 'HIT', 'store back: stale_if_error server refreshed (' . xcs($s2) . ')');
}

# ------------------------------------------------------------ $hotkey_cache_status in the access log
{
    sleep 0.3;    # the last log lines are written at the end of each request
    my @log;
    if (open my $fh, '<', "$P/logs/cache.log") {
        while (my $l = <$fh>) {
            chomp $l;
            my ($p, $m, $u, $st, $cs) = $l =~ /^(\d+) (\S+) (\S+) (\d+) "([^"]*)"/ or next;
            $cs = '-' if $cs eq '' || $cs eq '-';
            push @log, "$p $m $u $st $cs";
        }
    }
    # 500s of the list route are checked above (their X-Cache-Status);
    # here the variable is compared with the header where there is one
    my %cached = map { $port{$_} => 1 } grep { $_ ne 'nocache' } keys %port;
    my $skip = sub { my @f = split ' ', $_[0]; $cached{ $f[0] } && $f[3] == 500 && $f[2] =~ m{^/v2/} };
    my @a = sort grep { !$skip->($_) } @seen;
    my @b = sort grep { !$skip->($_) } @log;
    my $ok = is_deeply(\@b, \@a, sprintf('access log: $hotkey_cache_status of all %d requests (but the 500s) equals their X-Cache-Status', scalar @a));
    unless ($ok) {
        my %c;
        $c{$_}++ for @a;
        $c{$_}-- for @b;
        my @d = grep { $c{$_} } sort keys %c;
        diag("differences (header count minus log count):\n"
             . join("\n", map { "$c{$_} $_" } @d[0 .. ($#d < 15 ? $#d : 15)]));
    }
    my %by = map { (split ' ', $_)[4] => 1 } @log;
    my @l500 = map { (split ' ', $_)[4] } grep { $skip->($_) } @log;
    is(scalar(@l500), scalar(grep { $skip->($_) } @seen), 'access log: the 500s of the list route are logged')
        and diag('their $hotkey_cache_status: ' . join(' ', @l500));
    is(join(',', sort grep { $_ ne '-' } keys %by), 'BYPASS,EXPIRED,HIT,MISS,STALE,UPDATING',
       'access log: every status was seen (BYPASS EXPIRED HIT MISS STALE UPDATING)');
    # the 50 concurrent requests: which workers served them (information)
    if (open my $fh, '<', "$P/logs/cache.log") {
        my %w;
        while (<$fh>) { $w{$1}++ if m{ /v2/\S+/instances/$inst{coal}[0]/hotkey-tasks\?limit=20 .* (\d+)$} }
        diag('50 concurrent misses were served by workers: ' . join(', ', map { "$_ ($w{$_})" } sort keys %w));
    }
}

$t->done;

# is_deeply without the test output
sub eq_deeply_json {
    my ($a, $b) = @_;
    return json_encode($a) eq json_encode($b);
}
