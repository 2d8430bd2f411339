#!/usr/bin/perl
# Routing: 404 DCS.4001 for every other path in the API location, 405
# DCS.5001 with Allow for other methods on the list route, and weird
# requests that must neither produce HTML from the module nor hurt nginx.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Hotkey::Test qw(:all);

my $t = Hotkey::Test->new;
$t->start_redis;

my $pid = hex32();
my $iid = uuid();
$t->add_instance($iid, project => $pid);
my @tasks = $t->add_tasks($iid, map { { status => 'success' } } 1 .. 3);

my $nomerge = $t->port('nomerge');
my $jsonp = $t->port('json');
my $top = $t->top;
$t->wait_ports($nomerge, $jsonp);
$t->start_nginx(
    $t->api_server
  . $t->api_server(port => $nomerge, upstream => 0, server_extra => '        merge_slashes off;')
  . $t->api_server(port => $jsonp, upstream => 0,
                   server_extra => "        include $top/conf-examples/json-errors.conf;"));

my $NF = 'The requested URL does not exist.';
my $NA = 'This request method is not allowed.';
my $ok_list = expected_list($iid, \@tasks);

is_json_ok($t->list($pid, $iid), $ok_list, 'the route itself answers 200');

# ------------------------------------------------------------ 404 DCS.4001
my $P = "/v2/$pid";
my $I = "$P/instances/$iid";
my @not_routes = (
    ['/v2/', '/v2/'],
    [$P, 'project only'],
    ["$P/", 'project and slash'],
    ["$P/instances", 'no instance'],
    ["$P/instances/", 'empty instance'],
    [$I, 'no action segment'],
    ["$I/", 'instance and slash'],
    ["$I/hotkey-task/", 'hotkey-task/ with no id'],
    ["$I/hotkey-tasks/", 'trailing slash'],
    ["$I/hotkey-tasks/x", 'extra segment'],
    ["$I/hotkey-tasks/" . uuid(), 'extra uuid segment'],
    ["$I/hotkey-task/" . uuid() . '/x', 'task details plus a segment'],
    ["$I/hotkey/autoscanx", 'hotkey/autoscanx'],
    ["$I/hotkey", 'hotkey alone'],
    ["$I/hotkey-tasksx", 'hotkey-tasksx'],
    ["$I/hotkey-tasks.json", 'hotkey-tasks.json'],
    ["$I/hotkey-tasks;x", 'hotkey-tasks;x'],
    ["$I/HOTKEY-TASKS", 'uppercase action'],
    ["$P/Instances/$iid/hotkey-tasks", 'Instances capitalised'],
    ["$P/instance/$iid/hotkey-tasks", 'instance singular'],
    ["$P/instances/$iid/bigkey-tasks", 'bigkey-tasks'],
    ["/v2/instances/$iid/hotkey-tasks", 'project segment missing'],
    ["$P/$iid/hotkey-tasks", 'instances segment missing'],
    ["$P/instances/hotkey-tasks", 'instance segment missing'],
    ["/v2/x/y/z/w/v/u/t", 'seven segments'],
    ["$P/instances//hotkey-tasks", 'empty instance segment (double slash)'],
    ["/v2//instances/$iid/hotkey-tasks", 'empty project segment (double slash)'],
    ["/v2/a/instances/b/hotkey-tasks/c/d", 'route plus two segments'],
    ['/v2/' . ('a' x 7000), 'a 7000-char path'],
);
for my $c (@not_routes) {
    my ($path, $what) = @$c;
    is_json_error($t->get($path), 404, 'DCS.4001', $NF, "GET $what -> 404 DCS.4001");
}
for my $c (@not_routes[0, 7, 8]) {
    my ($path, $what) = @$c;
    is_json_error($t->get("$path?limit=2"), 404, 'DCS.4001', $NF, "GET $what?limit=2 -> 404");
    is_json_error($t->request('POST', $path), 404, 'DCS.4001', $NF, "POST $what -> 404 (no route, so no 405)");
    my $h = $t->head($path);
    is($h->{status}, 404, "HEAD $what -> 404");
    is($h->{body}, '', "HEAD $what: no body");
}
{
    # with merge_slashes off, a double slash anywhere is an empty segment
    for my $path ("$P//instances/$iid/hotkey-tasks", "$P/instances/$iid//hotkey-tasks",
                  "/v2//$pid/instances/$iid/hotkey-tasks")
    {
        my $r = $t->request('GET', $path, [], undef, port => $nomerge);
        is_json_error($r, 404, 'DCS.4001', $NF, "merge_slashes off: $path -> 404");
    }
    # the same paths on the default server (merge_slashes on): nginx
    # normalises the URI first; whatever the module answers must be the
    # list or the JSON 404, never anything else
    for my $path ("$P//instances/$iid/hotkey-tasks", "$I//hotkey-tasks") {
        my $r = $t->get($path);
        ok(($r->{status} // 0) == 200 && ref $r->{json} eq 'HASH' && $r->{json}{count} == 3
           || ($r->{status} // 0) == 404 && ($r->{json}{error_code} // '') eq 'DCS.4001',
           "merge_slashes on: $path -> the list or the JSON 404")
            or diag("got " . ($r->{status} // 'nothing') . ": " . ($r->{body} // ''));
        note("merge_slashes on: $path -> " . ($r->{status} // 'nothing'));
    }
}
{
    my $r = $t->request('GET', $not_routes[0][0], [Host => 'localhost'], undef, port => $nomerge);
    is_json_error($r, 404, 'DCS.4001', $NF, 'the second server answers the same 404');
}
{
    my $r = $t->get('/v2/' . ('a' x 7000));
    unlike($r->{body} // '', qr/aaaa/, 'the 404 does not echo the path');
}

# ------------------------------------------------------------ 405 DCS.5001
my $route = $t->list_path($pid, $iid);
for my $m (qw(POST PUT DELETE PATCH OPTIONS PROPFIND FOO)) {
    my $r = $t->request($m, $route);
    is_json_error($r, 405, 'DCS.5001', $NA, "$m on the list route -> 405 DCS.5001");
    my $allow = $r->{headers}{allow} // '';
    my %a = map { uc($_) => 1 } split /\s*,\s*/, $allow;
    ok($a{GET} && $a{HEAD}, "$m: Allow lists GET and HEAD (Allow: $allow)");
    ok(!$a{$m} && !$a{POST}, "$m: Allow does not list $m or POST");
    my @allow_headers = grep { lc $_->[0] eq 'allow' } @{ $r->{header_list} || [] };
    is(scalar @allow_headers, 1, "$m: one Allow header");
}
{
    my $r = $t->request('POST', $route, [], '{"x":1}');
    is_json_error($r, 405, 'DCS.5001', $NA, 'POST with a body -> 405');
    # the body is read and dropped: a second request on the connection works
    my $body = 'x' x 5000;
    my $rs = $t->raw("POST $route HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
                     . length($body) . "\r\n\r\n$body"
                     . "GET $route HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                     responses => 2);
    is($rs->[0]{status}, 405, 'POST with a 5000-byte body on a keepalive connection: 405');
    is_json_ok($rs->[1], $ok_list, 'the next request on that connection is served');
    my $ch = "5\r\nhello\r\n0\r\n\r\n";
    $rs = $t->raw("PUT $route HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n$ch"
                  . "GET $route HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                  responses => 2);
    is($rs->[0]{status}, 405, 'PUT with a chunked body: 405');
    is_json_ok($rs->[1], $ok_list, 'the next request after a chunked body is served');
    my $h = $t->request('OPTIONS', $route);
    ok(defined $h->{headers}{allow}, 'OPTIONS gets Allow too');
}

# every path of the API: the other methods get 405 with that path's Allow
{
    my $tid = uuid();
    my @paths = (
        ["$I/hotkey-task", 'POST', [qw(GET HEAD PUT DELETE PATCH)]],
        ["$I/hotkey-task/$tid", 'GET, HEAD, DELETE', [qw(POST PUT PATCH)]],
        ["$I/hotkey/autoscan", 'GET, HEAD, PUT', [qw(POST DELETE PATCH)]],
    );
    for my $c (@paths) {
        my ($path, $allow, $methods) = @$c;
        for my $m (@$methods) {
            my $r = $t->request($m, $path);
            if ($m eq 'HEAD') {
                is($r->{status}, 405, "HEAD $path -> 405");
                is($r->{headers}{allow}, $allow, "HEAD $path: Allow: $allow");
                next;
            }
            is_json_error($r, 405, 'DCS.5001', $NA, "$m $path -> 405 DCS.5001");
            is($r->{headers}{allow}, $allow, "$m $path: Allow: $allow");
        }
    }
}

# ------------------------------------------------------------ weird requests
sub not_module_html {
    my ($r, $what) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $s = $r->{status} // 0;
    ok($s && $s < 500, "$what: answered, not a 5xx (got " . ($s || 'nothing') . ')');
}

{
    # nginx's own 414 (before the module) on the default server
    my $r = $t->get('/v2/' . ('a' x 10000));
    is($r->{status}, 414, 'a 10000-char URI: 414 from nginx');
    # with the JSON error snippet it is JSON
    $r = $t->request('GET', '/v2/' . ('a' x 10000), [], undef, port => $jsonp);
    is_json_error($r, 414, 'DCS.4000', 'Request URI too large.',
                  '414 with json-errors.conf is JSON');

    $r = $t->raw("GET /v2/a\0b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    is($r->{status}, 400, 'a raw NUL in the request line: 400 from nginx');
    $r = $t->raw("GET /v2/a\0b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                 port => $jsonp);
    is_json_error($r, 400, 'DCS.4000', 'Invalid request.', 'raw NUL with json-errors.conf: JSON 400');

    # %00 in the project segment: nginx may refuse it, the module must
    # call it a bad project id; never a 200 or a 5xx
    $r = $t->get("/v2/$pid%00/instances/$iid/hotkey-tasks");
    is($r->{status}, 400, '%00 in the project id: 400');
    is_json_error($r, 400, 'DCS.4002', 'Invalid project ID format.', '%00 in the project id: JSON DCS.4002')
        if ($r->{headers}{'content-type'} // '') =~ /json/;
    $r = $t->get("/v2/$pid/instances/" . substr($iid, 0, 35) . '%00/hotkey-tasks');
    is($r->{status}, 400, '%00 in the instance id: 400');

    $r = $t->get("/v2/$pid/instances/$iid/hotkey-tasks\xff");
    is_json_error($r, 404, 'DCS.4001', $NF, 'a raw 0xff byte after the route: 404 JSON');
    $r = $t->get("/v2/$pid\xc3\xa9/instances/$iid/hotkey-tasks");
    is_json_error($r, 400, 'DCS.4002', 'Invalid project ID format.', 'UTF-8 in the project id: 400 JSON');
    $r = $t->get('/v2/' . ('b' x 5000) . "/instances/$iid/hotkey-tasks");
    is_json_error($r, 400, 'DCS.4002', 'Invalid project ID format.', 'a 5000-char project id: 400 JSON');
    $r = $t->get("/v2/$pid/instances/" . ('c' x 5000) . '/hotkey-tasks');
    is_json_error($r, 400, 'DCS.4061', 'Invalid instance ID format.', 'a 5000-char instance id: 400 JSON');

    $r = $t->raw("GET http://localhost$route HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    is_json_ok($r, $ok_list, 'absolute URI in the request line: 200');

    $r = $t->raw("G\@T $route HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    is($r->{status}, 400, 'a method with @: 400 from nginx');
    $r = $t->raw("get $route HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    is($r->{status}, 400, 'a lowercase method: 400 from nginx');

    $r = $t->request('GET', $route, ['X-Big' => 'x' x 20000]);
    is($r->{status}, 400, 'a 20000-byte header: 400 from nginx');
    $r = $t->request('GET', $route, ['X-Big' => 'x' x 20000], undef, port => $jsonp);
    is_json_error($r, 400, 'DCS.4000', 'Request header too large.', 'a 20000-byte header with json-errors.conf');

    $r = $t->raw("GET $route HTTP/1.1\r\nHost: localhost\r\nX-A: a\0b\r\nConnection: close\r\n\r\n");
    not_module_html($r, 'a NUL in a header value');

    $r = $t->raw("GET $route?limit=%00%00%00&status=%ff%fe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    is_json_error($r, 400, 'DCS.4062', 'Invalid limit parameter in the request.', 'NUL and 0xff in the query: 400 JSON');

    $r = $t->request('GET', "/v2/$pid/instances/$iid/hotkey%2Dtasks");
    ok(($r->{status} // 0) == 200 || ($r->{status} // 0) == 404 && ($r->{json}{error_code} // '') eq 'DCS.4001',
       'hotkey%2Dtasks: the list (decoded) or the JSON 404');
    note('hotkey%2Dtasks -> ' . ($r->{status} // 'nothing'));
    $r = $t->request('GET', "/v2/$pid%2Finstances%2F$iid%2Fhotkey-tasks");
    ok(($r->{status} // 0) < 500 && ($r->{headers}{'content-type'} // '') =~ /json/,
       '%2F in the path: a JSON answer, not a 5xx');
    note('%2F path -> ' . ($r->{status} // 'nothing'));

    $r = $t->raw("GET $route HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc");
    is_json_ok($r, $ok_list, 'GET with a body: still the list');

    $r = $t->raw("GET $route HTTP/1.1\r\n" . join('', map { "X-H$_: $_\r\n" } 1 .. 90)
                 . "Host: localhost\r\nConnection: close\r\n\r\n");
    is_json_ok($r, $ok_list, '90 headers: still the list');

    # a client that goes away before the answer
    for (1 .. 20) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->nginx_port);
        print $s "GET $route HTTP/1.1\r\nHost: localhost\r\n\r\n";
        close $s;
    }
    # and one that sends half a request line
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->nginx_port);
    print $s "GET /v2/$pid/inst";
    close $s;
}

is_json_ok($t->list($pid, $iid), $ok_list, 'nginx still serves after the weird requests');
ok($t->nginx_alive, 'nginx master alive');

$t->done;
