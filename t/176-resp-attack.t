#!/usr/bin/perl
# The request path's reply reader (hotkey_resp.c) and the answer written
# after the reply in u->buffer, through fake stores that replay a reply
# from a file:
#   - the real store's replies to every operation, replayed whole, one
#     byte at a time, in chunks, into a 128-byte buffer, and after a
#     pipelined AUTH whose +OK arrives with the reply byte by byte: the
#     same answer each time;
#   - a list of 1000 tasks (more elements than the worker's node area
#     holds: laid out in the request's pool), whole and in chunks;
#   - a reply exactly filling u->buffer (no room left for the answer), one
#     byte short of it and one byte over;
#   - hostile replies (bad lengths, overflowing counts, nil and errors in
#     odd places, RESP3 types, lone CR, deep nesting, element and string
#     limits, more elements than a reply may hold, redirects): 500
#     DCS.5000 JSON, whole and byte by byte;
#   - keepalive: after a reply with bytes after it, a cut reply and an
#     oversized one, the next request on the same upstream is answered
#     from its own reply;
#   - a cluster's MOVED, ASK (and ASKING's +OK) and TRYAGAIN, each a byte
#     at a time, then the reply: answered as the store's reply says.
# The worker never restarts and the log has no [alert]/[crit].  The same
# file passes against main's hiredis-based reader: the answers are the
# ones it gave.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Hotkey::Test qw(:all);
use Hotkey::Cluster;

my $IE = 'Internal service error.';
my $pid = hex32();
my $iid = uuid();
my @tids = map { uuid() } 0 .. 6;

my $t = Hotkey::Test->new(workers => 1);
$t->start_redis;
$t->add_instance($iid, project => $pid);
my $i = 0;
for my $id (@tids) {
    my $s = $i % 4;
    $t->add_task($iid, id => $id, status => (qw(waiting running success failed))[$s],
                 created_at => 1592187680669 + $i,
                 started_at => $s ? 1592187681669 + $i : undef,
                 finished_at => $s > 1 ? 1592187682669 + $i : undef);
    $i++;
}
$t->redis('RPUSH', "hotkey:{$iid}:task:$tids[2]:keys",
          '9|0|string|3000|byte|h:1|dcs-hotkey-test', "1|0|hash|12|byte|h:2|k\0b");
$t->redis('RPUSH', "hotkey:{$iid}:task:$tids[6]:keys",
          map { "$_|0|string|$_|byte|h:$_|key-$_" } 1 .. 100);
$t->add_tasks($iid, map { { status => 'success' } } 1 .. 1000);

# every fake store replays $dir/reply.bin when it is there, else asks
# the real store (its reply kept in captured.bin)
my $dir = $t->prefix;
my $rport = $t->redis_port;
sub spew { my ($f, $d) = @_; open my $h, '>:raw', $f or die "$f: $!"; print $h $d; close $h }
sub slurp { open my $h, '<:raw', $_[0] or return undef; local $/; scalar <$h> }
my $replay = sub {
    my ($cmd) = @_;
    my $r = slurp("$dir/reply.bin");
    return $r if defined $r;
    $r = Hotkey::Test::_proxy($rport, $cmd);
    spew("$dir/captured.bin", $r);
    return $r;
};
# AUTH (on a new connection) is answered with the script's reply: "+OK\r\n"
# then the reply
my $authed = 0;         # per connection: each has a process of its own
my $after_auth = sub {
    my ($cmd) = @_;
    return '' if $cmd->[0] =~ /^auth$/i && ($authed = 1);
    my $ok = $authed ? "+OK\r\n" : '';
    $authed = 0;
    return $ok . $replay->($cmd);
};
my %fake = (
    whole => $t->start_fake('whole', reply => $replay),
    drip  => $t->start_fake('drip', reply => $replay, drip => [1, 0.0002]),
    chunk => $t->start_fake('chunk', reply => $replay, drip => [97, 0.0005]),
    auth  => $t->start_fake('auth', reply => $after_auth, drip => [1, 0.0002]),
);

my %port;
sub conf {
    my (%extra) = @_;
    my $http = "    hotkey_cache_zone ra:1m;\n";
    my @s = ([whole => whole => ''], [drip => drip => ''], [chunk => chunk => ''],
             [whole128 => whole => 128], [drip128 => drip => 128],
             [chunk128 => chunk => 128],
             [auth => auth => 128, 'hotkey_store_password pw;'],
             map { ["fill$_" => whole => $extra{$_}] } sort keys %extra);
    for my $s (@s) {
        my ($name, $fk, $bs, $up) = @$s;
        $port{$name} //= $t->port("nginx_$name");
        $up //= '';
        my $b = $bs ? "hotkey_store_buffer_size $bs;" : '';
        $http .= <<"CONF";
    upstream u_$name { server 127.0.0.1:$fake{$fk}; keepalive 4; $up }
    server {
        listen 127.0.0.1:$port{$name};
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store u_$name;
            hotkey_store_read_timeout 3s;
            $b
        }
    }
CONF
    }
    $http .= "    server { listen 127.0.0.1:" . $t->nginx_port
           . "; location / { return 204; } }\n";
    return $http;
}
conf();
$t->wait_ports(values %port);
$t->start_nginx(conf());
my @workers = $t->worker_pids;

my $base = "/v2/$pid/instances/$iid";
my %ops = (
    list     => ['GET', "$base/hotkey-tasks?limit=10", undef],
    details  => ['GET', "$base/hotkey-task/$tids[2]", undef],
    keys     => ['GET', "$base/hotkey-task/$tids[6]", undef],
    biglist  => ['GET', "$base/hotkey-tasks?limit=1000", undef],
    create   => ['POST', "$base/hotkey-task", ''],
    delete   => ['DELETE', "$base/hotkey-task/$tids[3]", undef],
    asget    => ['GET', "$base/hotkey/autoscan", undef],
    asput    => ['PUT', "$base/hotkey/autoscan",
                 '{"enable_auto_scan":true,"schedule_at":["03:30"]}'],
);

sub ask {
    my ($name, $op) = @_;
    my ($m, $p, $b) = @{ $ops{$op} };
    my $r = $t->request($m, $p, [], $b, port => $port{$name}, timeout => 8);
    my $body = $r->{body} // '';
    # create's answer names the task it made (a new uuid each time)
    $body =~ s/"id":"[0-9a-f-]{36}"/"id":"-"/ if $op eq 'create';
    return join ' ', $r->{status} // 'none',
        $r->{headers}{'content-type'} // '-', $body;
}

# ---- the real replies, replayed every way: the same answer

my (%real, %want);
for my $op (qw(list biglist details keys asget asput create delete)) {
    unlink "$dir/reply.bin", "$dir/captured.bin";
    $want{$op} = ask('whole', $op);
    $real{$op} = slurp("$dir/captured.bin");
    like($want{$op}, qr/^(200|204|400) /, "$op: the real store's answer");
}
like($want{keys}, qr/"key-100"/, 'details: all 100 keys in the answer');
my $records = () = $want{biglist} =~ /"scan_type"/g;
is($records, 1000, 'list of 1000 records: more elements than the node area');

for my $op (sort keys %real) {
    spew("$dir/reply.bin", $real{$op});
    my @via = length $real{$op} > 3000
            ? qw(whole chunk whole128 chunk128)
            : qw(whole drip chunk whole128 drip128 chunk128 auth);
    my @bad = grep { ask($_, $op) ne $want{$op} } @via;
    ok(!@bad, "$op replayed (" . length($real{$op}) . " bytes): the same answer"
              . " via @via") or diag("differs via @bad");
}

# ---- a reply exactly filling u->buffer, one byte short, one over

{
    my $n = length $real{list};
    $t->reload(conf(a => $n - 1, b => $n, c => $n + 1));
    @workers = $t->worker_pids;
    spew("$dir/reply.bin", $real{list});
    for my $f (qw(a b c)) {
        is(ask("fill$f", 'list'), $want{list},
           "list reply of $n bytes, buffer of " . { a => $n - 1, b => $n, c => $n + 1 }->{$f}
           . ': the same answer');
    }
}

# ---- hostile replies: 500 DCS.5000 JSON

my $deep = sub { ("*1\r\n" x $_[0]) . ":1\r\n" };
my $head = sub {        # the reply's first element replaced
    my ($op, $with) = @_;
    (my $r = $real{$op}) =~ s/^(\*\d+\r\n)\$\d+\r\n[^\r]*\r\n/$1$with/s;
    return $r;
};
my @hostile = (
    ['nil array'              => "*-1\r\n"],
    ['nil bulk'               => "\$-1\r\n"],
    ['length -2'              => "\$-2\r\n"],
    ['count -2'               => "*-2\r\n"],
    ['length -0'              => "\$-0\r\nx\r\n"],
    ['count 2^63-1'           => "*9223372036854775807\r\n:1\r\n"],
    ['length 2^64'            => "\$18446744073709551616\r\nabc\r\n"],
    ['integer 2^63'           => ":9223372036854775808\r\n"],
    ['length +3'              => "\$+3\r\nabc\r\n"],
    ['length 03'              => "\$03\r\nabc\r\n"],
    ['RESP3 null'             => "_\r\n"],
    ['RESP3 map'              => "%1\r\n+a\r\n+b\r\n"],
    ['RESP3 attribute'        => "|1\r\n+a\r\n+b\r\n" . $real{list}],
    ['RESP3 push'             => ">2\r\n+a\r\n+b\r\n"],
    ['RESP3 double'           => ",1.5\r\n"],
    ['lone CR'                => "+OK\rX\r\n"],
    ['LF only'                => "+OK\n"],
    ['nested 8 deep'          => $deep->(8)],
    ['nested 9 deep'          => $deep->(9)],
    ['2049 elements'          => "*2049\r\n" . (":1\r\n" x 2049)],
    ['1170 elements'          => "*1170\r\n" . (":1\r\n" x 1170)],
    ['65537 elements'         => "*32\r\n" . (("*2048\r\n" . (":1\r\n" x 2048)) x 32)],
    ['4097-byte string'       => "\$4097\r\n" . ('a' x 4097) . "\r\n"],
    ['4097-byte status'       => '+' . ('a' x 4097) . "\r\n"],
    ['error mid-array'        => $head->(list => "-ERR boom\r\n")],
    ['nil mid-array'          => $head->(list => "\$-1\r\n")],
    ['RESP3 mid-array'        => $head->(list => "#t\r\n")],
    ['NUL in a string'        => do { (my $r = $real{list}) =~ s/allkeys-lfu/allkeys\0lfu/; $r }],
    ['reply + extra bytes'    => $real{list} . "+OK\r\n"],
    ['MOVED'                  => "-MOVED 3999 127.0.0.1:6381\r\n"],
    ['ASK'                    => "-ASK 3999 127.0.0.1:6381\r\n"],
    ['TRYAGAIN'               => "-TRYAGAIN Multiple keys request during rehashing of slot\r\n"],
);
for my $h (@hostile) {
    my ($what, $reply) = @$h;
    spew("$dir/reply.bin", $reply);
    my @via = length $reply > 3000 ? qw(whole chunk128) : qw(whole drip128);
    # bytes after a reply that came a byte at a time may come after the
    # answer: the reply itself is answered then
    @via = qw(whole) if $what eq 'reply + extra bytes';
    for my $via (@via) {
        my $r = $t->request('GET', "$base/hotkey-tasks?limit=10", [], undef,
                            port => $port{$via}, timeout => 8);
        is_json_error($r, 500, 'DCS.5000', $IE, "$what via $via: 500 DCS.5000");
    }
}

# ---- keepalive: nothing of a refused reply reaches the next request

{
    my $ok = 1;
    for my $bad ($real{list} . "+OK\r\n", substr($real{list}, 0, 50),
                 "\$4097\r\n" . ('a' x 4097) . "\r\n", "*2\r\n:1\r\n:2\r\n:3\r\n") {
        spew("$dir/reply.bin", $bad);
        ask('whole128', 'list');
        spew("$dir/reply.bin", $real{list});
        $ok &&= ask('whole128', 'list') eq $want{list};
        $ok &&= ask('whole128', 'list') eq $want{list};
    }
    ok($ok, 'keepalive: after refused replies, the next ones are answered from their own');
}

is_deeply([$t->worker_pids], \@workers, 'the worker never restarted');
$t->stop_nginx;

# ---- a cluster's redirects, each reply (ASKING's +OK too) byte by byte

{
    my $slot = Hotkey::Cluster::crc16($iid) % 16384;
    my $bump = sub {        # a counter shared by the forked fakes
        my $f = "$dir/count-$_[0]";
        my $n = (slurp($f) // 0) + 1;
        spew($f, $n);
        return $n;
    };
    my $node = sub {
        my ($name, $script) = @_;
        my $port = $t->port($name);
        $t->start_fake($name, drip => [1, 0.0002], reply => sub {
            my ($cmd) = @_;
            my $c = uc($cmd->[0] // '');
            return "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n\$9\r\n127.0.0.1\r\n"
                 . ":$port\r\n" if $c eq 'CLUSTER';
            return "+OK\r\n" if $c eq 'ASKING';
            return $script->($cmd) if $c =~ /^EVAL/;
            return Hotkey::Test::_proxy($rport, $cmd);
        });
        return $port;
    };
    my $good = $node->('good', $replay);
    my %via = (
        moved    => $node->('moved', sub { "-MOVED $slot 127.0.0.1:$good\r\n" }),
        ask      => $node->('ask', sub { "-ASK $slot 127.0.0.1:$good\r\n" }),
        tryagain => $node->('tryagain', sub {
            $bump->('tryagain') % 4 ? "-TRYAGAIN Multiple keys request during"
                                      . " rehashing of slot\r\n"
                                    : $replay->($_[0]) }),
    );
    my $http = '';
    for my $name (sort keys %via) {
        $port{"cl_$name"} = $t->port("nginx_cl_$name");
        $http .= <<"CONF";
    upstream cl_$name { hotkey_store_cluster; server 127.0.0.1:$via{$name}; }
    server {
        listen 127.0.0.1:$port{"cl_$name"};
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store cl_$name;
            hotkey_store_read_timeout 3s;
        }
    }
CONF
    }
    $http .= "    server { listen 127.0.0.1:" . $t->nginx_port
           . "; location / { return 204; } }\n";
    $t->wait_ports(map { $port{"cl_$_"} } keys %via);
    $t->start_nginx($http);
    for my $name (sort keys %via) {
        for my $op (qw(list details)) {
            spew("$dir/reply.bin", $real{$op});
            is(ask("cl_$name", $op), $want{$op},
               "cluster, $name byte by byte: $op answered as by the store");
        }
    }
}

$t->done;
