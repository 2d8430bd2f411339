#!/usr/bin/perl
# A store with a password (hotkey_store_password in its upstream {}):
# the default user's password or an ACL user; AUTH once per new
# connection (keepalive keeps it), also on the subscription that keeps
# the cache in step with writes; a wrong or missing password is a 500
# DCS.5000 JSON answer with the reason in the error log.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);

my $t = Hotkey::Test->new(workers => 2);
$t->start_redis;
my $pid = uuid();
my $iid = uuid();
$t->add_instance($iid, project => $pid);
my @tasks = $t->add_tasks($iid, map { { status => 'success' } } 1 .. 5);

# the harness's connection stays authenticated after this
is($t->redis('CONFIG', 'SET', 'requirepass', 'pw 1'), 'OK', 'requirepass');
is($t->redis('ACL', 'SETUSER', 'gw', 'on', '>gw-pw', '~hotkey:*',
             '&hotkey:*', '+@all'), 'OK', 'an ACL user');

my $addr = '127.0.0.1:' . $t->redis_port;
my %ups = (a => 'hotkey_store_password "pw 1";',
           b => 'hotkey_store_password gw gw-pw;',
           c => 'hotkey_store_password wrong;',
           d => '',
           e => 'hotkey_store_password "pw 1";');
my $http = "    hotkey_cache_zone pw:1m;\n";
for my $k (sort keys %ups) {
    $http .= "    upstream $k {\n        $ups{$k}\n        server $addr;\n"
           . "        keepalive 8;\n    }\n";
}
my $locs = '';
for my $k (sort keys %ups) {
    my $cache = $k eq 'e' ? "hotkey_cache pw;\n            "
                          . "hotkey_cache_valid 60s;\n" : '';
    $locs .= <<"EOF";
        location /$k/ {
            rewrite ^/$k(/.*)\$ \$1 break;
            hotkey_api on;
            hotkey_auth off;
            hotkey_store $k;
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

for my $bad (
    [ 'twice', "hotkey_store_password a;\n        hotkey_store_password b;",
      qr/is duplicate/ ],
    [ 'empty', 'hotkey_store_password "";', qr/empty argument/ ],
    [ 'three arguments', 'hotkey_store_password a b c;',
      qr/invalid number of arguments/ ],
) {
    my ($rc, $out) = $t->nginx_t("    upstream x {\n        $bad->[1]\n"
        . "        server $addr;\n    }\n"
        . $t->api_server(store => 'x'));
    isnt($rc, 0, "nginx -t refuses a password $bad->[0]");
    like($out, $bad->[2], "... and says why ($bad->[0])");
}
{
    my ($rc, $out) = $t->nginx_t($t->api_server(extra =>
        '            hotkey_store_password x;'));
    isnt($rc, 0, 'nginx -t refuses a password outside upstream {}');
}

$t->start_nginx($http);
$t->allow_log(qr/refused AUTH|NOAUTH|WRONGPASS|bad reply/);

my $list = $t->list_path($pid, $iid, '');
my $want = expected_list($iid, \@tasks);
is_json_ok($t->get("/a$list"), $want, 'the default user\'s password');
is_json_ok($t->get("/b$list"), $want, 'an ACL user and its password');

my $m = $t->log_mark;
is_json_error($t->get("/c$list"), 500, 'DCS.5000', qr/./,
              'a wrong password: 500 DCS.5000');
like($t->log_since($m), qr/refused AUTH or ASKING: WRONGPASS/,
     '... the log says AUTH was refused');
is_json_error($t->get("/d$list"), 500, 'DCS.5000', qr/./,
              'no password: 500 DCS.5000');

# AUTH only on new connections
$t->redis('CONFIG', 'RESETSTAT');
my $ok = 0;
for (1 .. 200) {
    my $r = $t->get("/a$list");
    $ok++ if $r->{status} == 200;
}
is($ok, 200, '200 lists');
my ($auths) = $t->redis('INFO', 'commandstats')
    =~ /cmdstat_auth:calls=(\d+)/;
cmp_ok($auths // 0, '<=', 16, "... with $auths AUTH (one per new "
                              . 'connection, keepalive 8 per worker)');
# EVAL the first time a worker runs the script, EVALSHA after
my $stats = $t->redis('INFO', 'commandstats');
my $evals = 0;
$evals += $1 while $stats =~ /cmdstat_eval(?:sha)?:calls=(\d+)/g;
cmp_ok($evals, '>=', 200, '... and a script for each');

# the subscription says AUTH too: a write reaches the cached list
{
    my $path = "/e" . $t->list_path($pid, $iid, 'limit=1');
    my $n0 = $t->get($path)->{json}{count};
    is($t->get($path)->{json}{count}, $n0, 'a cached list');
    my $res = $t->request('POST', "/a/v2/$pid/instances/$iid/hotkey-task",
                          [], '');
    is($res->{status}, 200, 'a create through the password store');
    my $n1;
    poll(2, sub { ($n1 = $t->get($path)->{json}{count}) == $n0 + 1 });
    is($n1, $n0 + 1, '... reaches the cached list: the subscription '
                     . 'authenticated');
}

$t->done;
