#!/usr/bin/perl
# Store replies an attacker-controlled (or broken) store can send, on a
# coalesced miss (issue 9: EVALSHA with one NOSCRIPT retry on the same
# connection, junk after a reply refused): a leader and 3 waiters on one
# key in one worker, each store below:
#   noscript      NOSCRIPT to every command (EVALSHA and the EVAL retry)
#   noscript+junk NOSCRIPT followed by extra bytes
#   moved         a cluster redirect (-MOVED)
#   partial       half an array reply, then the connection closes
#   noscript+half NOSCRIPT, then half a reply to the EVAL and a close
#   stall         accepts and reads, never answers (read timeout 1 s)
# Every request is answered 500 DCS.5000 (JSON) within 3 s, twice in a
# row (no lock left behind), the worker is idle afterwards and the log has
# no [alert]/[crit].
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Attack qw(:all);

my $IE = 'Internal service error.';
my $pid = hex32();
my $iid = uuid();
my $NS = "-NOSCRIPT No matching script. Please use EVAL.\r\n";

my $t = Hotkey::Test->new(workers => 1);
$t->start_redis;
$t->add_instance($iid, project => $pid);
$t->add_tasks($iid, map { { status => 'success' } } 1 .. 3);

my %calls;
my @stores = (
    [noscript        => reply => sub { $NS }],
    ['noscript+junk' => reply => sub { $NS . "+OK\r\n" }],
    [moved           => reply => sub { "-MOVED 3999 127.0.0.1:6381\r\n" }],
    [partial         => reply => sub { "*3\r\n:1\r\n\$10\r\nabc" }, close_after => 1],
    ['noscript+half' => reply => sub { $_[0][0] =~ /^evalsha$/i ? $NS : "*3\r\n:1\r\n" },
                        close_after => 0],
    [stall           => mode => 'silent'],
);

my (%port, $http);
$http = "    hotkey_cache_zone sr:1m;\n";
for my $s (@stores) {
    my ($name, @o) = @$s;
    (my $tag = $name) =~ tr/a-z/_/c;
    my $sp = $t->start_fake($tag, @o);
    $port{$name} = $t->port("nginx_$tag");
    $http .= <<"CONF";
    upstream st_$tag { server 127.0.0.1:$sp; }
    server {
        listen 127.0.0.1:$port{$name};
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store st_$tag;
            hotkey_store_connect_timeout 1s;
            hotkey_store_send_timeout 1s;
            hotkey_store_read_timeout 1s;
            hotkey_cache sr;
            hotkey_cache_valid 60s;
        }
    }
CONF
}
my $port = $t->nginx_port;
$http .= "    server { listen 127.0.0.1:$port; location / { return 204; } }\n";
$t->start_nginx($http);
$t->wait_ports(values %port);

for my $s (@stores) {
    my $name = $s->[0];
    for my $round (1, 2) {
        my $q = "limit=" . (1 + length $name);
        my @c = map { Hotkey::Attack::Conn->new($t, port => $port{$name}) } 1 .. 4;
        my $t0 = time;
        $c[0]->send('GET', $t->list_path($pid, $iid, $q));
        sleep 0.05;
        $_->send('GET', $t->list_path($pid, $iid, $q)) for @c[1 .. 3];
        my @bad;
        for my $i (0 .. 3) {
            my $left = $t0 + 3 - time;
            my $r = $c[$i]->recv(timeout => $left > 0.1 ? $left : 0.1);
            my $j = $r->{json} || {};
            push @bad, "request $i: " . Hotkey::Test::_res_summary($r)
                unless ($r->{status} // 0) == 500
                       && ($j->{error_code} // '') eq 'DCS.5000'
                       && ($j->{error_msg} // '') eq $IE;
        }
        ok(!@bad, "$name (round $round): the leader and 3 waiters answered 500 DCS.5000 within 3 s")
            or diag(join "\n", @bad);
        $_->close for @c;
    }
}

idle_check($t, 'the worker is idle afterwards');
hard_stop($t);
$t->done;
