#!/usr/bin/perl
# Attacks on hotkey_store_password: the subscription that keeps a cache in
# step with writes is one per address; when a store without a password and
# one with a password name the same address, the subscription must still
# authenticate (else writes never reach the password store's cached lists);
# a password changed on Redis while nginx keeps connections.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);

my $t = Hotkey::Test->new(workers => 1);
$t->start_redis;
my $pid = uuid();
my $iid = uuid();
$t->add_instance($iid, project => $pid);
$t->add_tasks($iid, map { { status => 'success' } } 1 .. 3);

is($t->redis('CONFIG', 'SET', 'requirepass', 'pw1'), 'OK', 'requirepass');

my $addr = '127.0.0.1:' . $t->redis_port;
# "a" (no password) is named first by a cached location: its subscription
# would be the one kept for the address
my $http = <<"EOF2";
    hotkey_cache_zone pw:1m;
    upstream a {
        server $addr;
        keepalive 8;
    }
    upstream p {
        hotkey_store_password pw1;
        server $addr;
        keepalive 8;
    }
    server {
        listen 127.0.0.1:@{[ $t->nginx_port ]};
        location /a/ {
            rewrite ^/a(/.*)\$ \$1 break;
            hotkey_api on;
            hotkey_auth off;
            hotkey_store a;
            hotkey_cache pw;
            hotkey_cache_valid 60s;
        }
        location /p/ {
            rewrite ^/p(/.*)\$ \$1 break;
            hotkey_api on;
            hotkey_auth off;
            hotkey_store p;
            hotkey_cache pw;
            hotkey_cache_valid 60s;
        }
    }
EOF2

$t->start_nginx($http);
$t->allow_log(qr/refused AUTH|NOAUTH|WRONGPASS|bad reply|subscription|invalid password/);
sleep 0.5;

my $path = '/p' . $t->list_path($pid, $iid, 'limit=1');
my $n0 = $t->get($path)->{json}{count};
ok(defined $n0, 'a cached list through the password store');
is($t->get($path)->{json}{count}, $n0, '... cached');
# a write by another gateway: only the subscription tells this one
$t->add_tasks($iid, { status => 'success' });
is($t->redis('PUBLISH', 'hotkey:changes', $iid), 1,
   'a write published, one subscriber (this worker)');
my $n1;
poll(3, sub { ($n1 = $t->get($path)->{json}{count}) == $n0 + 1 }, 0.05);
is($n1, $n0 + 1, '... reaches the cached list although a store without '
                 . 'a password names the same address first');

# kept connections killed (as by a restart): the next requests find them
# dead, and the new connections must say AUTH
{
    my $p1 = '/p' . $t->list_path($pid, $iid, 'limit=4');
    is($t->get($p1)->{status}, 200, 'warm keepalive again');
    $t->redis('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    my %s;
    for (1 .. 20) {
        $s{ $t->get('/p' . $t->list_path($pid, $iid, "limit=4&offset=$_"))
            ->{status} }++;
    }
    is_deeply(\%s, { 200 => 20 }, 'kept connections killed: new ones '
              . 'authenticate, 20 x 200');
}

# the password changes on Redis while nginx keeps connections
my $list = '/p' . $t->list_path($pid, $iid, '');
my $p2 = '/p' . $t->list_path($pid, $iid, 'limit=2');
is($t->get($p2)->{status}, 200, 'warm keepalive');
is($t->redis('CONFIG', 'SET', 'requirepass', 'pw2'), 'OK', 'password changed');
$t->redis('AUTH', 'pw2');
my %st;
for (1 .. 30) {
    my $r = $t->get('/p' . $t->list_path($pid, $iid, "limit=3&offset=$_"));
    $st{$r->{status}}++;
}
ok(!grep({ $_ != 200 && $_ != 500 } keys %st),
   'after a password change: 200 (kept) or 500 (new) only: '
   . join(',', map { "$_=$st{$_}" } sort keys %st));
# a create on connections that cannot AUTH creates nothing
my $ntasks = sub {
    my $n = 0;
    for my $k (@{ $t->redis('KEYS', '*') }) {
        my $ty = $t->redis('TYPE', $k);
        $n += $ty eq 'zset' ? $t->redis('ZCARD', $k)
            : $ty eq 'hash' ? $t->redis('HLEN', $k) : 1;
    }
    $n;
};
my $before = $ntasks->();
$t->redis('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
sleep 0.2;
my $r = $t->request('POST', "/p/v2/$pid/instances/$iid/hotkey-task", [], '');
is_json_error($r, 500, 'DCS.5000', qr/./, 'a create on a new connection '
              . 'with a stale password: 500 DCS.5000');
is($ntasks->(), $before,
   '... and nothing created');

# the password removed on Redis (no password for the default user): a new
# connection's AUTH fails, the script pipelined after it must not write
is($t->redis('CONFIG', 'SET', 'requirepass', ''), 'OK', 'password removed');
$t->redis('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
sleep 0.2;
my $k0 = $ntasks->();
my $m2 = $t->log_mark;
$r = $t->request('POST', "/p/v2/$pid/instances/$iid/hotkey-task", [], '');
like($t->log_since($m2), qr/refused AUTH/, '... AUTH refused, logged');
# the script ran (the default user needs no password): the answer says
# so, not a 500 for a task that exists (a client would create it again)
is($r->{status}, 200, '... a create whose AUTH is refused but whose '
                      . 'script ran: 200');
cmp_ok($ntasks->(), '>', $k0, '... and it did create');

# the subscriptions lost while the password is gone: the password store's
# one comes back although its AUTH is refused (SUBSCRIBE needs none)
$t->redis('CLIENT', 'KILL', 'TYPE', 'pubsub');
my $subs = 0;
poll(7, sub { ($subs = $t->redis('PUBLISH', 'hotkey:changes', 'x')) >= 2 },
     0.1);
is($subs, 2, 'both subscriptions back, the one whose AUTH is refused too');

# reloads that remove, then add back, the password of the same upstream
{
    (my $nopw = $http) =~ s/hotkey_store_password pw1;//;
    my ($rc, $replaced) = $t->reload($nopw);
    is($rc, 0, 'reload without the password');
    my $l = '/p' . $t->list_path($pid, $iid, 'limit=5');
    is($t->get($l)->{status}, 200, '... 200 (Redis has none)');
    is($t->redis('CONFIG', 'SET', 'requirepass', 'pw1'), 'OK',
       'the password back on Redis');
    ($rc, $replaced) = $t->reload($http);
    is($rc, 0, 'reload with the password again');
    my %s;
    $s{ $t->get('/p' . $t->list_path($pid, $iid, "limit=5&offset=$_"))
        ->{status} }++ for 1 .. 10;
    is_deeply(\%s, { 200 => 10 }, '... new workers authenticate: 10 x 200');
}

$t->done(no_done_testing => 1);

# fake stores in front of a Redis without a password, answering AUTH
# byte by byte, late, with garbage, or closing right after it
{
    my $f = Hotkey::Test->new(workers => 1);
    $f->start_redis;
    my $pid = uuid();
    my $iid = uuid();
    $f->add_instance($iid, project => $pid);
    $f->add_tasks($iid, map { { status => 'success' } } 1 .. 3);
    my $rp = $f->redis_port;
    my $auth = sub {
        my ($ok) = @_;
        return sub { uc $_[0][0] eq 'AUTH' ? $ok : Hotkey::Test::_proxy($rp, $_[0]) };
    };
    my %mode = (
        drip    => [ reply => $auth->("+OK\r\n"), drip => [1, 0.0003] ],
        slow    => [ reply => sub { if (uc $_[0][0] eq 'AUTH') { sleep 0.5;
                                        return "+OK\r\n" }
                                    Hotkey::Test::_proxy($rp, $_[0]) } ],
        garbage => [ reply => $auth->("HTTP/1.1 200 OK\r\n\r\n") ],
        close   => [ reply => "+OK\r\n", close_after => 1 ],
        huge    => [ reply => $auth->('$999999999' . "\r\nx") ],
    );
    my $http = '';
    my $locs = '';
    for my $k (sort keys %mode) {
        my $port = $f->start_fake($k, mode => 'proxy', @{ $mode{$k} });
        $http .= "    upstream $k {\n        hotkey_store_password x;\n"
               . "        server 127.0.0.1:$port;\n    }\n";
        $locs .= <<"EOF2";
        location /$k/ {
            rewrite ^/$k(/.*)\$ \$1 break;
            hotkey_api on;
            hotkey_auth off;
            hotkey_store $k;
        }
EOF2
    }
    $http .= "    server {\n        listen 127.0.0.1:@{[ $f->nginx_port ]};\n"
           . "$locs    }\n";
    $f->start_nginx($http);
    $f->allow_log(qr/invalid reply|closed|prematurely|refused|timed out|bad/);
    my $list = $f->list_path($pid, $iid, '');
    for my $k (qw(drip slow)) {
        my $r = $f->get("/$k$list");
        is($r->{status}, 200, "AUTH answered $k: 200") or diag($r->{body}, $f->log_since(0));
        is($r->{json}{count}, 3, "... the list") if $r->{status} == 200;
    }
    for my $k (qw(garbage close huge)) {
        is_json_error($f->get("/$k$list"), 500, 'DCS.5000', qr/./,
                      "AUTH answered $k: 500 DCS.5000");
    }
    is($f->get("/drip$list")->{status}, 200, 'nginx still answers');
    $f->done;
}
