#!/usr/bin/perl
# What the store says and what happens when it fails: unknown instance,
# another project's instance, non-LFU instance, malformed records, a store
# that stops and comes back, and fake stores that answer nonsense or
# nothing.  nginx must answer 500 DCS.5000 JSON and keep serving.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);

my $t = Hotkey::Test->new;
$t->start_redis;

my $NX = 'This DCS instance does not exist.';
my $NS = 'Does not support hotkey analyze.';
my $IE = 'Internal service error.';

my $pid = hex32();
my $iid = uuid();
my @fixture;
sub load_fixtures {
    $t->add_instance($iid, project => $pid);
    @fixture = $t->add_tasks($iid, map { { status => (qw(waiting running success failed))[$_ % 4] } } 0 .. 14);
}
load_fixtures();

# servers: the real store through an upstream with keepalive (default
# port), the real store by address, fake stores, a closed port
my $direct = $t->port('direct');
my @fake_modes = (
    [garbage     => { mode => 'garbage' },     'non-RESP bytes, then close'],
    [wrong_type  => { mode => 'wrong_type' },  'an integer instead of an array'],
    [error       => { mode => 'error' },       'an error reply'],
    [noscript    => { reply => "-NOSCRIPT No matching script. Please use EVAL.\r\n" }, 'NOSCRIPT'],
    [truncated   => { mode => 'truncated' },   'half a reply, then close'],
    [close       => { mode => 'close' },       'close without a reply'],
    [wrong_shape => { mode => 'wrong_shape' }, 'an array holding an array where strings belong'],
    [bulk        => { reply => "\$5\r\nhello\r\n" }, 'a bulk string'],
    [nil_array   => { reply => "*-1\r\n" },    'a nil array'],
    [empty_array => { reply => "*0\r\n" },     'an empty array'],
    [ints        => { reply => "*3\r\n:1\r\n:2\r\n:3\r\n" }, 'an array of integers'],
    [one_elem    => { reply => "*1\r\n\$3\r\nfoo\r\n" }, 'a one-element array'],
    [huge_bulk   => { reply => "\$999999999\r\nabc", close_after => 1 }, 'a 1 GB bulk announced'],
    [huge_array  => { reply => "*999999999\r\n:1\r\n", close_after => 1 }, 'a 10^9-element array announced'],
    [deep        => { reply => ("*1\r\n" x 10000) . ":1\r\n" }, 'an array nested 10000 deep'],
    [bad_len     => { reply => "\$abc\r\nxyz\r\n" }, 'a bulk with a non-numeric length'],
    [bad_type    => { reply => "?what\r\n" }, 'an unknown type byte'],
);
my %fport;
for my $f (@fake_modes) {
    my ($name, $o) = @$f;
    $fport{$name} = $t->start_fake($name, %$o);
}
my $silent_port = $t->start_fake('silent', mode => 'silent');
my $drip_port = $t->start_fake('drip', mode => 'proxy', to => $t->redis_port, drip => [3, 0.001]);
my $closed = free_port();    # nothing listens there

my %srv;
my $conf = $t->api_server
         . $t->api_server(port => $direct, upstream => 0);
for my $f (@fake_modes) {
    my $name = $f->[0];
    $srv{$name} = $t->port("srv_$name");
    # a long read timeout: a nonsense reply must be judged as it arrives,
    # not after a timeout
    $conf .= $t->api_server(port => $srv{$name}, upstream => 0,
                            store_addr => "127.0.0.1:$fport{$name}", read_timeout => '5s');
}
$srv{silent} = $t->port('srv_silent');
$conf .= $t->api_server(port => $srv{silent}, store_addr => "127.0.0.1:$silent_port",
                        read_timeout => '300ms');
$srv{drip} = $t->port('srv_drip');
$conf .= $t->api_server(port => $srv{drip}, upstream => 0, store_addr => "127.0.0.1:$drip_port");
$srv{closed} = $t->port('srv_closed');
$conf .= $t->api_server(port => $srv{closed}, store_addr => "127.0.0.1:$closed");
# an upstream of two servers, one of which is down: nginx's max_fails
# takes the dead one out, so the store keeps answering
$srv{half} = $t->port('srv_half');
$conf .= <<"EOF";
    upstream half_down {
        server 127.0.0.1:$closed max_fails=1 fail_timeout=30s;
        server 127.0.0.1:@{[ $t->redis_port ]} max_fails=1 fail_timeout=30s;
        keepalive 4;
    }
EOF
$conf .= $t->api_server(port => $srv{half}, store => 'half_down');
$t->wait_ports($direct, values %srv);
$t->start_nginx($conf);

sub list_on {
    my ($port, $p, $i, $q) = @_;
    return $t->request('GET', $t->list_path($p, $i, $q), [], undef, port => $port);
}

is_json_ok($t->list($pid, $iid), expected_list($iid, \@fixture), 'upstream server: 200');
is_json_ok(list_on($direct, $pid, $iid), expected_list($iid, \@fixture), 'direct address server: 200');

# ------------------------------------------------------------ instances
{
    is_json_error($t->list($pid, uuid()), 404, 'DCS.3022', $NX, 'unknown instance: 404 DCS.3022');
    is_json_error($t->list(hex32(), $iid), 404, 'DCS.3022', $NX,
                  'instance of another project: 404 DCS.3022');
    is_json_error($t->list(uuid(), $iid), 404, 'DCS.3022', $NX,
                  'instance of another project (dashed project id): 404 DCS.3022');
    my $r = $t->list($pid, $iid);
    ok(($r->{status} // 0) == 200, 'the owning project still sees it');

    # the project id must match exactly as written in the URL
    my $dp = uuid();
    my $i2 = uuid();
    $t->add_instance($i2, project => join('', split /-/, $dp));
    is_json_error($t->list($dp, $i2), 404, 'DCS.3022', $NX,
                  'project stored as 32 hex, asked as dashed UUID: 404');

    my $i3 = uuid();
    $t->add_instance($i3, project => undef, policy => 'allkeys-lfu');
    is_json_error($t->list($pid, $i3), 404, 'DCS.3022', $NX, 'instance hash without project_id: 404');

    # the index exists but the instance hash does not
    my $i4 = uuid();
    $t->add_task($i4);
    is_json_error($t->list($pid, $i4), 404, 'DCS.3022', $NX, 'tasks but no instance hash: 404');

    for my $pol ('allkeys-lru', 'volatile-lru', 'noeviction', 'allkeys-random',
                 'volatile-ttl', 'ALLKEYS-LFU', 'allkeys-lfu ', '', undef)
    {
        my $i = uuid();
        $t->add_instance($i, project => $pid, policy => $pol);
        $t->add_task($i);
        my $what = defined $pol ? "'$pol'" : 'missing';
        is_json_error($t->list($pid, $i), 400, 'DCS.4922', $NS, "eviction policy $what: 400 DCS.4922");
        is_json_error($t->list($pid, $i, 'status=success&limit=1000&offset=5'), 400, 'DCS.4922', $NS,
                      "eviction policy $what with parameters: 400 DCS.4922");
        is_json_error($t->list(hex32(), $i), 404, 'DCS.3022', $NX,
                      "eviction policy $what, another project: 404 (nothing about it leaks)");
    }
    my $iv = uuid();
    $t->add_instance($iv, project => $pid, policy => 'volatile-lfu');
    is_json_ok($t->list($pid, $iv), { instance_id => $iv, count => 0, records => [] },
               'volatile-lfu is analysable');
}

# ------------------------------------------------------------ bad records
{
    my @bad = (
        ['status done',            { raw => { status => 'done' } }],
        ['status Success',         { raw => { status => 'Success' } }],
        ['status missing',         { raw => { status => undef } }],
        ['scan_type weekly',       { raw => { scan_type => 'weekly' } }],
        ['scan_type missing',      { raw => { scan_type => undef } }],
        ['created_at abc',         { raw => { created_at => 'abc' } }],
        ['created_at 1.5',         { raw => { created_at => '1592187678669.5' } }],
        ['created_at empty',       { raw => { created_at => '' } }],
        ['created_at 12abc',       { raw => { created_at => '12abc' } }],
        ['created_at 1e12',        { raw => { created_at => '1e12' } }],
        ['created_at overflow',    { raw => { created_at => '99999999999999999999999' } }],
        ['created_at missing',     { raw => { created_at => undef } }],
        ['started_at x',           { raw => { started_at => 'x' } }],
        ['finished_at " 5"',       { raw => { finished_at => ' 5' } }],
        ['id mismatch',            { raw => { id => uuid() } }],
        ['id missing',             { raw => { id => undef } }],
        ['task hash missing',      { no_hash => 1 }],
    );
    for my $b (@bad) {
        my ($what, $o) = @$b;
        my $i = uuid();
        $t->add_instance($i, project => $pid);
        my @good = $t->add_tasks($i, map { { status => 'success', created_at => 1600000000000 + $_ } } 1 .. 3);
        $t->add_task($i, %$o, status => 'success', created_at => 1600000000000 - 1000);
        my $m = $t->log_mark;
        is_json_error($t->list($pid, $i), 500, 'DCS.5000', $IE, "record with $what: 500 DCS.5000");
        like($t->log_since($m), qr/\[error\]/, "record with $what: an [error] line in the log");
        # a page that does not hold the bad record is fine
        my $e = expected_list($i, \@good, limit => 3);
        $e->{count} = 4;
        is_json_ok($t->list($pid, $i, 'limit=3'), $e,
                   "record with $what: a page without it is 200 (count 4)");
    }
}

# ------------------------------------------------------------ fake stores
for my $f (@fake_modes) {
    my ($name, undef, $what) = @$f;
    for my $n (1, 2) {
        my $m = $t->log_mark;
        my $r = list_on($srv{$name}, $pid, $iid);
        is_json_error($r, 500, 'DCS.5000', $IE, "fake store, $what (#$n): 500 DCS.5000");
        cmp_ok($r->{elapsed} // 99, '<', 2, "fake store, $what (#$n): answered at once, not after the 5s read timeout");
        like($t->log_since($m), qr/\[error\]/, "fake store, $what (#$n): an [error] line in the log");
    }
}
{
    my $r = list_on($srv{bulk}, $pid, $iid, 'limit=0');
    is_json_error($r, 400, 'DCS.4062', 'Invalid limit parameter in the request.',
                  'a bad parameter is answered before the store is asked');
}
for my $n (1, 2, 3) {
    my $m = $t->log_mark;
    my $r = list_on($srv{silent}, $pid, $iid);
    is_json_error($r, 500, 'DCS.5000', $IE, "silent store (#$n): 500 DCS.5000");
    my $e = $r->{elapsed} // 99;
    ok($e >= 0.25 && $e < 0.9, "silent store (#$n): after hotkey_store_read_timeout 300ms (took "
                               . sprintf('%.3f', $e) . 's)');
    like($t->log_since($m), qr/\[error\].*timed out/, "silent store (#$n): the log says timed out");
}
{
    my $m = $t->log_mark;
    my $r = list_on($srv{closed}, $pid, $iid);
    is_json_error($r, 500, 'DCS.5000', $IE, 'nothing listens at the store address: 500 DCS.5000');
    cmp_ok($r->{elapsed} // 99, '<', 2, 'connection refused: answered at once');
    like($t->log_since($m), qr/\[error\].*(refused|connect)/i, 'connection refused: logged');
}
{
    # a real reply that arrives 3 bytes at a time
    my $r = list_on($srv{drip}, $pid, $iid, 'limit=5');
    is_json_ok($r, expected_list($iid, \@fixture, limit => 5), 'a reply in 3-byte pieces: 200 and right');
    $r = list_on($srv{drip}, $pid, uuid());
    is_json_error($r, 404, 'DCS.3022', $NX, 'a dripped not-found reply: 404');
}

{
    my @s = map { list_on($srv{half}, $pid, $iid)->{status} // 0 } 1 .. 12;
    ok(!grep({ $_ != 200 && $_ != 500 } @s), "upstream with one dead server: 200 or 500 only (@s)");
    is_deeply([ @s[6 .. 11] ], [ (200) x 6 ],
              'upstream with one dead server: once it is marked failed, every request is 200');
    note("half-down upstream statuses: @s");
}

# ------------------------------------------------------------ store stops and restarts
sub all_200 {
    my ($what, $n) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @s;
    for (1 .. $n) {
        push @s, ($t->list($pid, $iid)->{status} // 0) . '/'
               . (list_on($direct, $pid, $iid)->{status} // 0);
    }
    is_deeply(\@s, [ ('200/200') x $n ], $what);
}
{
    all_200('before the stop: upstream and direct servers 200 (keepalive pool filled)', 6);

    $t->stop_redis(save => 1);
    my $m = $t->log_mark;
    my $r = $t->list($pid, $iid);
    is_json_error($r, 500, 'DCS.5000', $IE, 'store stopped: upstream server 500 DCS.5000');
    $r = list_on($direct, $pid, $iid);
    is_json_error($r, 500, 'DCS.5000', $IE, 'store stopped: direct server 500 DCS.5000');
    for (1 .. 4) {
        $r = $t->list($pid, $iid);
        is_json_error($r, 500, 'DCS.5000', $IE, "store stopped: request $_ more, 500");
    }
    like($t->log_since($m), qr/\[error\].*(refused|connect|closed|reset)/i,
         'store stopped: the error log says why');

    # the 500 closes the connection, and its header says so
    my $path = $t->list_path($pid, $iid);
    my $two = $t->raw("GET $path HTTP/1.1\r\nHost: x\r\n\r\n" x 2,
                      responses => 2);
    is($two->[0]{status}, 500, 'store stopped, keep-alive request: 500');
    like($two->[0]{headers}{connection} // '', qr/close/i,
         '... with Connection: close');
    ok(!defined $two->[1]{status},
       '... and no second answer on that connection');

    $t->start_redis;
    my $r1 = $t->list($pid, $iid);
    is_json_ok($r1, expected_list($iid, \@fixture), 'store restarted: the very next request is 200');
    all_200('store restarted: every worker, both servers 200', 6);

    # a crash (SIGKILL) rather than a shutdown
    $t->kill_redis;
    is_json_error($t->list($pid, $iid), 500, 'DCS.5000', $IE, 'store killed: 500');
    is_json_error(list_on($direct, $pid, $iid), 500, 'DCS.5000', $IE, 'store killed: direct 500');
    $t->start_redis;
    $t->flush_redis;
    load_fixtures();
    is_json_ok($t->list($pid, $iid), expected_list($iid, \@fixture), 'store back after a kill: 200');
    all_200('store back after a kill: every worker 200', 6);

    # a store that closes idle connections by itself (client timeout)
    $t->redis('CONFIG', 'SET', 'timeout', '1');
    all_200('before idle connections are closed by the store', 4);
    sleep 2.2;
    all_200('after the store closed the idle keepalive connections: 200', 6);
    $t->redis('CONFIG', 'SET', 'timeout', '0');

    # the store kills its clients under our feet
    all_200('before CLIENT KILL', 4);
    $t->redis('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    my @s = map { $t->list($pid, $iid)->{status} // 0 } 1 .. 6;
    ok(!grep({ $_ != 200 && $_ != 500 } @s), "after CLIENT KILL: only 200 or 500 (@s)");
    all_200('after CLIENT KILL, then: 200', 4);
}

# ------------------------------------------------------------ still alive
{
    # many concurrent requests, good and failing, at once
    my @socks;
    for my $k (1 .. 40) {
        my $port = $k % 4 == 0 ? $srv{garbage} : $k % 4 == 1 ? $srv{silent}
                 : $k % 4 == 2 ? $srv{deep} : $t->nginx_port;
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or next;
        print $s "GET " . $t->list_path($pid, $iid) . " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        push @socks, [$s, $port];
    }
    my %got;
    for my $p (@socks) {
        my ($s, $port) = @$p;
        local $/;
        my $d = <$s> // '';
        my ($st) = $d =~ m{^HTTP/1\.1 (\d+)};
        $got{ $port == $t->nginx_port ? 'good' : 'bad' }{ $st // 'none' }++;
    }
    is_deeply($got{good}, { 200 => 10 }, '10 concurrent good requests: 200');
    is_deeply($got{bad}, { 500 => 30 }, '30 concurrent failing requests: 500');
}
is_json_ok($t->list($pid, $iid), expected_list($iid, \@fixture), 'the workers still serve');
unlike($t->log_text, qr/exited on signal|segfault|worker process \d+ exited/,
       'no worker exited');
ok($t->nginx_alive, 'nginx alive');

$t->done;
