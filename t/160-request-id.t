#!/usr/bin/perl
# Contract parity (issue 9, "Contract parity"; api.md section 5): every
# answer carries X-Request-Id, nginx's $request_id (32 lowercase hex
# digits), a different one per request, and the same value is in the
# access log through $request_id.  Every kind of answer: a 200 list, the
# module's 401, 400, 404 DCS.4001, 405, 429 and 500 (store refused), and
# the errors nginx raises itself that conf-examples/json-errors.conf turns
# into JSON (414 URI too large, 400 malformed request line, 404 outside
# the API location).  The configuration is what the README shows: the
# module's directives and `include json-errors.conf;` in each server.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Hotkey::Test qw(:all);
use Hotkey::Limits qw(auth_files mint_token);

plan skip_all => 'hotkeyctl not built (make cli)'
    unless -x Hotkey::Test::build_file('hotkeyctl');

my $t = Hotkey::Test->new(workers => 2);
$t->start_redis;
my $P = $t->prefix;
my $redis = $t->redis_port;
my $pid = hex32();
my $iid = uuid();
$t->add_instance($iid, project => $pid);
my @tasks = $t->add_tasks($iid, map { { status => 'success' } } 1 .. 4);
my $auth = auth_files($t);

system('cp', $t->top . '/conf-examples/json-errors.conf', "$P/conf/json-errors.conf") == 0
    or die "cp json-errors.conf: $?";

my $port = $t->nginx_port;
my $dead = $t->port('deadstore');      # nothing listens there
my $port2 = $t->port('nostore');
$t->wait_ports($port2);
my $alog = "$P/logs/rid.log";

sub api {
    my ($store) = @_;
    return <<"EOF";
        include $P/conf/json-errors.conf;
        location /v2/ {
            hotkey_api on;
            hotkey_store $store;
            hotkey_auth_token_keys $auth->{secret};
            hotkey_rate_limit rid rate=10r/s burst=20;
            hotkey_cache ridc;
        }
EOF
}

$t->start_nginx(<<"EOF");
    log_format rid '\$request_id \$status';
    access_log $alog rid;
    hotkey_rate_limit_zone rid:1m;
    hotkey_cache_zone ridc:1m;
    upstream st {
        server 127.0.0.1:$redis;
        keepalive 8;
    }
    server {
        listen 127.0.0.1:$port default_server;
@{[ api('st') ]}
    }
    server {
        listen 127.0.0.1:$port2 default_server;
@{[ api("127.0.0.1:$dead") ]}
    }
EOF
$t->allow_log(qr/hotkey store|connect\(\) failed|Connection refused|client sent invalid request|too long URI|request-line/);

my $jwt = mint_token($t, project => $pid, sub => 'rid', actions => 'dcs:instance:listHotKey');
my $once = mint_token($t, project => $pid, sub => 'rid-once', actions => 'dcs:instance:listHotKey',
                      rate => '1r/m', burst => 1);
my $path = $t->list_path($pid, $iid, 'limit=2');
my @A = ('X-Auth-Token' => $jwt);

my @cases;    # [name, response, expected status]
sub case { push @cases, [ @_ ] }

case('200 list', $t->request('GET', $path, [@A]), 200);
case('200 list again (cache HIT)', $t->request('GET', $path, [@A]), 200);
case('401 DCS.1003', $t->request('GET', $path, []), 401);
case('400 DCS.4062', $t->request('GET', $t->list_path($pid, $iid, 'limit=0'), [@A]), 400);
case('404 DCS.4001', $t->request('GET', "/v2/$pid/instances/$iid/nothing", [@A]), 404);
case('405 DCS.5001', $t->request('POST', $path, [@A], ''), 405);
$t->request('GET', $path, [ 'X-Auth-Token' => $once ]);
case('429 APIGW.0308', $t->request('GET', $path, [ 'X-Auth-Token' => $once ]), 429);
case('500 DCS.5000 (store refused)',
     $t->request('GET', $t->list_path($pid, $iid, 'limit=3'), [@A], undef, port => $port2), 500);
case('414 from nginx (json-errors.conf)',
     $t->request('GET', '/v2/' . ('a' x 10000), []), 414);
case('400 from nginx, malformed request line (json-errors.conf)',
     $t->raw("GARBAGE\r\n\r\n"), 400);
case('404 from nginx outside the API location (json-errors.conf)',
     $t->request('GET', '/elsewhere', []), 404);
case('200 HEAD', $t->request('HEAD', $path, [@A]), 200);

my %log;
for (split /\n/, Hotkey::Test::_slurp($alog)) {
    $log{$1} = $2 if /^(\S+) (\d{3})$/;
}

my %seen;
for my $c (@cases) {
    my ($name, $r, $status) = @$c;
    is($r->{status}, $status, "$name: status $status");
    my @ids = grep { lc $_->[0] eq 'x-request-id' } @{ $r->{header_list} || [] };
    my $id = @ids == 1 ? $ids[0][1] : undef;
    ok(defined $id && $id =~ /^[0-9a-f]{32}$/,
       "$name: one X-Request-Id of 32 lowercase hex digits ("
       . (join(', ', map { $_->[1] } @ids) || 'none') . ')');
    next unless defined $id;
    ok(!$seen{$id}++, "$name: an id no other answer had");
    is($log{$id}, $status, "$name: the access log has the same id, with the status");
}

$t->done;
