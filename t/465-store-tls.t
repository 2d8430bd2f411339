#!/usr/bin/perl
# A store that speaks TLS (hotkey_store_tls in its upstream {}): the
# store's certificate checked against trusted= and name= inside the
# handshake (a DNS name or an address), a client certificate for Redis's
# tls-auth-clients, keepalive over TLS, AUTH over TLS, the subscription
# over TLS; every failure (wrong name, unknown CA, no client certificate,
# plain text to a TLS port, a port that never answers the handshake or
# answers garbage) a 500 DCS.5000 JSON answer with the cause in the log,
# and the workers unharmed.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::TLS;

my $t = Hotkey::Test->new(workers => 2);
my $c = Hotkey::TLS::certs($t->prefix . '/tls');
my $tp = $t->port('tls');
$t->start_redis(args => [ Hotkey::TLS::redis_args($c, $tp) ]);

# a second Redis whose certificate another CA signed
my $op = $t->port('other');
my $otp = $t->port('other_tls');
my $dir2 = $t->prefix . '/redis2';
mkdir $dir2;
system('redis-server', '--port', $op, '--bind', '127.0.0.1', '--save', '',
       '--appendonly', 'no', '--dir', $dir2, '--daemonize', 'yes',
       '--logfile', "$dir2/log", '--pidfile', "$dir2/pid",
       Hotkey::TLS::redis_args($c, $otp, other => 1)) == 0
    or BAIL_OUT('second redis-server');
for (1 .. 100) {
    last if `redis-cli -p $op ping 2>/dev/null` =~ /PONG/;
    sleep 0.05;
}

# a port that accepts and never speaks, and one that answers garbage
my $mute = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                 Listen => 16, ReuseAddr => 1) or die $!;
my $junk = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                 Listen => 16, ReuseAddr => 1) or die $!;
my $kid = fork // die;
if ($kid == 0) {
    my @held;
    my $sel = IO::Select->new($mute, $junk);
    while (1) {
        for my $s ($sel->can_read(1)) {
            my $a = $s->accept or next;
            if ($s == $junk) {
                syswrite($a, "-ERR not TLS\r\n" x 4 . "\x15\x03\x03\xff\xff");
            }
            push @held, $a;
        }
    }
}

my $pid = uuid();
my $iid = uuid();
$t->add_instance($iid, project => $pid);
my @tasks = $t->add_tasks($iid, map { { status => 'success' } } 1 .. 3);

my $good = "trusted=$c->{ca} certificate=$c->{client_crt} "
         . "key=$c->{client_key}";
my %ups = (
    a      => [ "$good name=redis.test", $tp ],
    ip     => [ "$good name=127.0.0.1", $tp ],
    chain  => [ $good, $tp ],
    cache  => [ "$good name=redis.test", $tp ],
    pw     => [ "$good name=redis.test;\n        hotkey_store_password pw",
                $tp ],
    name   => [ "$good name=other.test", $tp ],
    ipname => [ "$good name=127.0.0.2", $tp ],
    nocert => [ "trusted=$c->{ca} name=redis.test", $tp ],
    ca     => [ "$good name=redis.test", $otp ],
    noverify => [ "certificate=$c->{client_crt} key=$c->{client_key} "
                  . 'verify=off', $otp ],
    plain  => [ undef, $tp ],
    mute   => [ "$good name=redis.test", $mute->sockport ],
    junk   => [ "$good name=redis.test", $junk->sockport ],
);

my $http = "    hotkey_cache_zone tls:1m;\n";
my $locs = '';
for my $k (sort keys %ups) {
    my ($tls, $port) = @{ $ups{$k} };
    $tls = defined $tls ? "hotkey_store_tls $tls;" : '';
    $http .= "    upstream $k {\n        $tls\n"
           . "        server 127.0.0.1:$port;\n        keepalive 8;\n    }\n";
    my $cache = $k eq 'cache' ? "hotkey_cache tls;\n"
                                . "            hotkey_cache_valid 60s;\n"
                              : '';
    $locs .= <<"EOF";
        location /$k/ {
            rewrite ^/$k(/.*)\$ \$1 break;
            hotkey_api on;
            hotkey_auth off;
            hotkey_store $k;
            hotkey_store_connect_timeout 1s;
            hotkey_store_read_timeout 2s;
            $cache
        }
EOF
}
$http .= <<"EOF";
    server {
        listen 127.0.0.1:@{[ $t->nginx_port ]};
$locs
    }
EOF

# ---------------------------------------------------------------- nginx -t

for my $bad (
    [ 'a certificate without its key', "certificate=$c->{client_crt}",
      qr/needs both certificate= and key=/ ],
    [ 'a key without its certificate', "key=$c->{client_key}",
      qr/needs both certificate= and key=/ ],
    [ 'an unknown parameter', 'ciphers=ALL', qr/invalid parameter/ ],
    [ 'verify=maybe', 'verify=maybe', qr/invalid parameter/ ],
    [ 'an empty name', 'name=', qr/invalid parameter/ ],
    [ 'a missing trusted file', 'trusted=/nonexistent/ca.pem',
      qr/cannot load the trusted certificates/ ],
    [ 'a missing certificate', 'certificate=/nonexistent/c.pem '
      . 'key=/nonexistent/k.pem', qr/cannot load certificate/ ],
) {
    my ($rc, $out) = $t->nginx_t("    upstream x {\n"
        . "        hotkey_store_tls $bad->[1];\n"
        . "        server 127.0.0.1:$tp;\n    }\n"
        . $t->api_server(store => 'x'));
    isnt($rc, 0, "nginx -t refuses $bad->[0]");
    like($out, $bad->[2], "... and says why ($bad->[0])");
}
{
    my ($rc, $out) = $t->nginx_t("    upstream x {\n"
        . "        hotkey_store_tls;\n        hotkey_store_tls;\n"
        . "        server 127.0.0.1:$tp;\n    }\n"
        . $t->api_server(store => 'x'));
    like($out, qr/is duplicate/, 'nginx -t refuses hotkey_store_tls twice');
    ($rc, $out) = $t->nginx_t($t->api_server(extra =>
        '            hotkey_store_tls;'));
    isnt($rc, 0, 'nginx -t refuses hotkey_store_tls outside upstream {}');
    ($rc, $out) = $t->nginx_t("    upstream x {\n"
        . "        hotkey_store_tls verify=off;\n"
        . "        server 127.0.0.1:$tp;\n    }\n"
        . $t->api_server(store => 'x'));
    is($rc, 0, 'verify=off is accepted');
    like($out, qr/verify=off: the store's certificate is not checked/,
         '... with a warning');
}

# ---------------------------------------------------------------- requests

$t->start_nginx($http);
$t->allow_log(qr/SSL|certificate|handshak|upstream|refused AUTH|NOAUTH/);
my @workers = $t->worker_pids;

my $list = $t->list_path($pid, $iid, '');
my $want = expected_list($iid, \@tasks);
is_json_ok($t->get("/a$list"), $want, 'TLS, name=redis.test: the list');
is_json_ok($t->get("/ip$list"), $want, 'name=127.0.0.1: the address SAN');
is_json_ok($t->get("/chain$list"), $want, 'no name: the chain is checked');

{
    my $r = $t->get("/noverify$list");
    is($r->{status}, 404, 'verify=off: a store signed by another CA is '
       . 'reached (it has no such instance: 404)');
}

for my $case (
    [ 'name', 'a name the certificate does not have',
      qr/certificate verify failed|hostname mismatch/ ],
    [ 'ipname', 'an address the certificate does not have',
      qr/certificate verify failed|IP address mismatch/ ],
    [ 'ca', 'a store signed by another CA',
      qr/certificate verify failed|unable to get local issuer/ ],
    [ 'nocert', 'no client certificate for tls-auth-clients',
      qr/SSL|certificate required|prematurely closed|reset by peer/ ],
    [ 'plain', 'plain text to a TLS port', qr/./ ],
    [ 'junk', 'garbage in answer to the handshake', qr/SSL|upstream/ ],
) {
    my ($k, $what, $log) = @$case;
    my $m = $t->log_mark;
    is_json_error($t->get("/$k$list"), 500, 'DCS.5000', qr/./,
                  "$what: 500 DCS.5000");
    like($t->log_since($m), $log, "... the error log says why ($what)");
}

{
    my $t0 = time;
    my $r = $t->get("/mute$list");
    my $dt = time - $t0;
    is_json_error($r, 500, 'DCS.5000', qr/./,
                  'a store that never answers the handshake: 500 DCS.5000');
    cmp_ok($dt, '<', 4, sprintf('... within the connect timeout (%.1f s)',
                                $dt));
}

# keepalive over TLS: a handful of handshakes for many requests
{
    my ($before) = $t->redis('INFO', 'stats')
        =~ /total_connections_received:(\d+)/;
    my $ok = 0;
    for (1 .. 200) {
        $ok++ if $t->get("/a$list")->{status} == 200;
    }
    is($ok, 200, '200 lists over TLS');
    my ($after) = $t->redis('INFO', 'stats')
        =~ /total_connections_received:(\d+)/;
    cmp_ok($after - $before, '<=', 16,
           'kept connections: ' . ($after - $before)
           . ' new ones for 200 requests');
}

# the subscription over TLS: a write reaches a list cached for 60 s
{
    my $path = '/cache' . $t->list_path($pid, $iid, 'limit=1');
    my $n0 = $t->get($path)->{json}{count};
    is($t->get($path)->{json}{count}, $n0, 'a cached list');
    my $res = $t->request('POST', "/a/v2/$pid/instances/$iid/hotkey-task",
                          [], '');
    is($res->{status}, 200, 'a create over TLS');
    my $n1;
    poll(3, sub { ($n1 = $t->get($path)->{json}{count}) == $n0 + 1 });
    is($n1, $n0 + 1, '... reaches the cached list: the subscription '
                     . 'speaks TLS');
}

# AUTH over TLS
{
    is($t->redis('CONFIG', 'SET', 'requirepass', 'pw'), 'OK',
       'requirepass');
    my $r = $t->get("/pw$list");
    is($r->{status}, 200, 'TLS and a password: 200');
    is($t->redis('CONFIG', 'SET', 'requirepass', ''), 'OK',
       'no password again');
}

# a store restarted: kept TLS connections break, new ones are made
{
    $t->restart_redis(args => [ Hotkey::TLS::redis_args($c, $tp) ]);
    my $ok = 0;
    for (1 .. 20) {
        $ok++ if $t->get("/a$list")->{status} == 200;
    }
    cmp_ok($ok, '>=', 18, "after a restart of the store: $ok of 20 "
                          . 'answered 200 at once');
    is($t->get("/a$list")->{status}, 200, '... and the next one too');
}

is_deeply([ $t->worker_pids ], \@workers, 'the same workers throughout');

kill 'KILL', $kid;
waitpid($kid, 0);
system("redis-cli -p $op shutdown nosave >/dev/null 2>&1");
$t->done;
