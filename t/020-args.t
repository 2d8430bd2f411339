#!/usr/bin/perl
# Validation of the list route's query parameters and identifiers
# (api.md sections 2 and 3), and the order of the checks (section 4).
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
my @st = qw(waiting running success failed);
my @tasks = $t->add_tasks($iid, map { { status => $st[$_ % 4] } } 0 .. 39);

$t->start_nginx($t->api_server);

sub ok_q {
    my ($q, %exp) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $name = delete $exp{name} // "?$q accepted";
    my $r = $t->list($pid, $iid, $q);
    return is_json_ok($r, expected_list($iid, \@tasks, %exp), $name);
}

sub bad_q {
    my ($q, $param, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $r = $t->list($pid, $iid, $q);
    my $shown = length($q) > 80 ? substr($q, 0, 60) . '...(' . length($q) . ' chars)' : $q;
    return is_json_error($r, 400, 'DCS.4062', "Invalid $param parameter in the request.",
                         $name // "?$shown -> 400 DCS.4062 $param");
}

# ------------------------------------------------------------ accepted
ok_q('', name => 'no query');
ok_q('limit=%35', limit => 5, name => 'limit=%35 is 5 (percent-decoded first)');
ok_q('limit=0005', limit => 5, name => 'leading zeros: limit=0005');
ok_q('limit=01000', limit => 1000, name => 'leading zeros: limit=01000');
ok_q('limit=1', limit => 1);
ok_q('limit=1000', limit => 1000);
ok_q('limit=10', limit => 10);
ok_q('offset=0', offset => 0);
ok_q('offset=00', offset => 0, name => 'offset=00');
ok_q('offset=007', offset => 7, name => 'offset=007');
ok_q('offset=2147483647', offset => 2147483647, name => 'offset=2147483647 (the largest)');
ok_q('offset=02147483647', offset => 2147483647, name => 'offset=02147483647');
ok_q('offset=%33%30&limit=%31%30', offset => 30, limit => 10, name => 'all digits escaped');
ok_q('limit=' . ('0' x 3999) . '5', limit => 5,
     name => 'limit: 3999 leading zeros then 5 (digits only, leading zeros allowed)');
ok_q('status=succes%73', status => 'success', name => 'status=succes%73 is success');
ok_q('status=%77aiting', status => 'waiting', name => 'status=%77aiting is waiting');
ok_q('%73tatus=failed', status => 'failed', name => 'a percent-encoded name is decoded (%73tatus)');
ok_q('%6cimit=3', limit => 3, name => 'a percent-encoded name is decoded (%6cimit)');
ok_q('%6Cimit=3', limit => 3, name => 'uppercase hex escape in a name (%6Cimit)');
ok_q("status=$_", status => $_) for @st;
ok_q('status=running&offset=2&limit=3', status => 'running', offset => 2, limit => 3);
ok_q('limit=3&status=failed&offset=1', status => 'failed', offset => 1, limit => 3);

# unknown parameters are ignored, whatever they hold
ok_q('foo=bar', name => 'unknown parameter ignored');
ok_q('foo', name => 'unknown name without = ignored');
ok_q('foo=', name => 'unknown empty value ignored');
ok_q('foo=%zz&bar=%00&baz=%4', name => 'bad escapes in unknown parameters are ignored');
ok_q('limitx=0&xlimit=0&offset_=-1&stat=bad', name => 'names that contain a known name are unknown');
ok_q('Limit=0&LIMIT=0&Status=bad', name => 'names are case sensitive: Limit, LIMIT unknown');
ok_q('foo=1&foo=2&foo=3', name => 'unknown parameter repeated');
ok_q('limit=3&foo=bar', limit => 3, name => 'known and unknown together');
ok_q('&&limit=3&&', limit => 3, name => 'empty pieces between & are ignored');
ok_q('=5&limit=2', limit => 2, name => 'an empty name is unknown');
ok_q('limit=2&' . join('&', map { "p$_=$_" } 1 .. 300), limit => 2,
     name => '300 unknown parameters and limit=2');
ok_q(join('&', map { "p$_=$_" } 1 .. 300) . '&offset=4', offset => 4,
     name => '300 unknown parameters then offset=4');

# ------------------------------------------------------------ rejected: limit
bad_q('limit=', 'limit', 'limit= (empty) -> 400');
bad_q('limit', 'limit', 'limit without = -> 400');
bad_q('limit=0', 'limit');
bad_q('limit=1001', 'limit');
bad_q('limit=00', 'limit');
bad_q('limit=-1', 'limit');
bad_q('limit=-0', 'limit');
bad_q('limit=+5', 'limit', 'limit=+5: + is not a space, and no sign');
bad_q('limit=%2B5', 'limit', 'limit=%2B5 (decoded +5)');
bad_q('limit=%205', 'limit', 'limit=%205 (leading space)');
bad_q('limit=5%20', 'limit', 'limit=5%20 (trailing space)');
bad_q('limit=%095', 'limit', 'limit=%095 (tab)');
bad_q('limit=5+', 'limit');
bad_q('limit=1e2', 'limit', 'limit=1e2 (exponent)');
bad_q('limit=1E2', 'limit');
bad_q('limit=0x10', 'limit', 'limit=0x10 (hex)');
bad_q('limit=1.0', 'limit', 'limit=1.0');
bad_q('limit=10.', 'limit');
bad_q('limit=.5', 'limit');
bad_q('limit=abc', 'limit');
bad_q('limit=5a', 'limit');
bad_q('limit=a5', 'limit');
bad_q('limit=%EF%BC%95', 'limit', 'limit=fullwidth digit five');
bad_q('limit=%00', 'limit', 'limit=%00');
bad_q('limit=5%00', 'limit', 'limit=5%00 (NUL after digits)');
bad_q('limit=%005', 'limit', 'limit=%005 (NUL before digits)');
bad_q('limit=%zz', 'limit', 'limit=%zz (invalid escape)');
bad_q('limit=%4', 'limit', 'limit=%4 (truncated escape)');
bad_q('limit=%', 'limit', 'limit=% (lone percent)');
bad_q('limit=1%2', 'limit', 'limit=1%2 (truncated escape after a digit)');
bad_q('limit=%g5', 'limit');
bad_q('limit=' . ('9' x 4000), 'limit', 'limit: 4000 nines');
bad_q('limit=99999999999999999999999', 'limit', 'limit: 23 digits');
bad_q('limit=4294967301', 'limit', 'limit=4294967301 (2^32+5: no 32-bit wrap to 5)');
bad_q('limit=18446744073709551621', 'limit', 'limit=18446744073709551621 (2^64+5: no 64-bit wrap)');
bad_q('limit=2147483648', 'limit');
bad_q('limit=5&limit=5', 'limit', 'limit repeated with the same value');
bad_q('limit=5&limit=6', 'limit', 'limit repeated');
bad_q('limit=%35&limit=5', 'limit', 'limit repeated, once escaped');
bad_q('limit=5&%6cimit=5', 'limit', 'limit repeated under an escaped name');
bad_q('limit=5&limit', 'limit', 'limit then bare limit');
bad_q('limit=5&limit=', 'limit', 'limit then empty limit');

# ------------------------------------------------------------ rejected: offset
bad_q('offset=', 'offset', 'offset= (empty)');
bad_q('offset', 'offset', 'offset without =');
bad_q('offset=-1', 'offset');
bad_q('offset=-0', 'offset');
bad_q('offset=%2B0', 'offset', 'offset=%2B0 (decoded +0)');
bad_q('offset=+1', 'offset');
bad_q('offset=2147483648', 'offset', 'offset=2147483648 (2^31)');
bad_q('offset=4294967296', 'offset', 'offset=4294967296 (2^32: no wrap to 0)');
bad_q('offset=18446744073709551616', 'offset', 'offset=2^64 (no wrap to 0)');
bad_q('offset=99999999999999999999', 'offset', 'offset: 20 digits');
bad_q('offset=' . ('9' x 4000), 'offset', 'offset: 4000 nines');
bad_q('offset=1.0', 'offset');
bad_q('offset=1e3', 'offset');
bad_q('offset=0x1', 'offset');
bad_q('offset=%201', 'offset', 'offset=%201 (space)');
bad_q('offset=%zz', 'offset', 'offset=%zz');
bad_q('offset=%0', 'offset', 'offset=%0 (truncated escape)');
bad_q('offset=%00', 'offset', 'offset=%00');
bad_q('offset=0&offset=0', 'offset', 'offset repeated with the same value');
bad_q('offset=1&limit=2&offset=3', 'offset', 'offset repeated around limit');

# ------------------------------------------------------------ rejected: status
bad_q('status=', 'status', 'status= (empty)');
bad_q('status', 'status', 'status without =');
bad_q('status=Success', 'status', 'status=Success (case)');
bad_q('status=SUCCESS', 'status');
bad_q('status=done', 'status', 'unknown status');
bad_q('status=all', 'status');
bad_q('status=succes', 'status', 'a prefix of success');
bad_q('status=successx', 'status', 'success plus a letter');
bad_q('status=success%00', 'status', 'status=success%00');
bad_q('status=success%20', 'status', 'status=success%20');
bad_q('status=success+', 'status', 'status=success+ (+ is not a space)');
bad_q('status=success,failed', 'status');
bad_q('status=%zz', 'status');
bad_q('status=success&status=success', 'status', 'status repeated with the same value');
bad_q('status=success&status=failed', 'status', 'status repeated');

# ------------------------------------------------------------ several faults
bad_q('limit=0&offset=-1', 'limit', 'limit then offset bad: limit reported');
bad_q('offset=-1&limit=0', 'offset', 'offset then limit bad: offset reported');
bad_q('status=x&limit=0', 'status', 'status then limit bad: status reported');
bad_q('limit=5&status=x&offset=-1', 'status', 'good limit, bad status, bad offset: status');
bad_q('foo=%zz&limit=0', 'limit', 'a bad unknown parameter is not reported');
bad_q('limit=5&limit=6&offset=-1', 'limit', 'repeat (at its second occurrence) before a later bad offset');
bad_q('offset=-1&limit=5&limit=6', 'offset', 'bad offset before a repeated limit');

# ------------------------------------------------------------ identifiers
# accepted forms: 32 lowercase hex (above) and a lowercase dashed UUID;
# any hex in the UUID shape (no version/variant check)
for my $id ('00000000-0000-0000-0000-000000000000',
            'ffffffff-ffff-ffff-ffff-ffffffffffff')
{
    $t->add_instance($id, project => $id);
    my $r = $t->list($id, $id);
    is_json_ok($r, { instance_id => $id, count => 0, records => [] },
               "project and instance $id accepted");
}
{
    my $p2 = uuid();
    $t->add_instance($iid, project => $p2);
    is_json_ok($t->list($p2, $iid, 'limit=2'), expected_list($iid, \@tasks, limit => 2),
               'dashed lowercase UUID project id accepted');
    $t->add_instance($iid, project => $pid);
}

my $U = uuid();
my @bad_project = (
    [uc $pid, 'uppercase 32 hex'],
    ['A' . substr($pid, 1), 'one uppercase letter'],
    [substr($pid, 1), '31 hex'],
    [$pid . 'a', '33 hex'],
    ['g' . substr($pid, 1), 'non-hex letter g'],
    [uc $U, 'uppercase dashed UUID'],
    [join('', split /-/, $U, 2), 'UUID missing its first dash (35 chars)'],
    [substr($U, 0, 4) . '-' . substr($U, 4, 4) . substr($U, 9), 'UUID with a dash moved (4-8-4-4-12)'],
    [$U . 'a', 'UUID plus a char'],
    ['{' . $U . '}', 'UUID in braces'],
    ['-' x 36, '36 dashes'],
    [substr($pid, 0, 31) . '}', 'a } in the project id'],
    [substr($pid, 0, 31) . '*', 'a * in the project id'],
    ['x', 'one letter'],
);
for my $c (@bad_project) {
    my ($p, $what) = @$c;
    my $r = $t->list($p, $iid);
    is_json_error($r, 400, 'DCS.4002', 'Invalid project ID format.', "project id: $what -> 400 DCS.4002");
}

my @bad_instance = (
    [join('', split /-/, $iid), '32 hex (no dashes)'],
    [uc $iid, 'uppercase'],
    [substr($iid, 0, 35), '35 chars'],
    [$iid . '0', '37 chars'],
    [substr($iid, 0, 35) . 'g', 'non-hex g'],
    [substr($iid, 0, 35) . '}', 'a } (hash tag char)'],
    [substr($iid, 0, 35) . '{', 'a { (hash tag char)'],
    [substr($iid, 0, 35) . ':', 'a : (key separator)'],
    [substr($iid, 0, 8) . substr($iid, 9, 1) . '-' . substr($iid, 10), 'a dash moved'],
    ['-' x 36, '36 dashes'],
    [$pid, 'a 32-hex project-like id'],
);
for my $c (@bad_instance) {
    my ($i, $what) = @$c;
    my $r = $t->list($pid, $i);
    is_json_error($r, 400, 'DCS.4061', 'Invalid instance ID format.', "instance id: $what -> 400 DCS.4061");
}

# order: route/method -> IDs (project, then instance) -> query -> store
{
    my $r = $t->list(uc $pid, uc $iid);
    is_json_error($r, 400, 'DCS.4002', 'Invalid project ID format.', 'both IDs bad: project reported');
    $r = $t->list(uc $pid, $iid, 'limit=0');
    is_json_error($r, 400, 'DCS.4002', 'Invalid project ID format.', 'bad project and bad limit: project');
    $r = $t->list($pid, uc $iid, 'limit=0&status=x');
    is_json_error($r, 400, 'DCS.4061', 'Invalid instance ID format.', 'bad instance and bad query: instance');
    $r = $t->list($pid, uuid(), 'limit=0');
    is_json_error($r, 400, 'DCS.4062', 'Invalid limit parameter in the request.',
                  'unknown instance with a bad limit: the query is checked before the store');
    $r = $t->list(hex32(), $iid, 'offset=-1');
    is_json_error($r, 400, 'DCS.4062', 'Invalid offset parameter in the request.',
                  'instance of another project with a bad offset: 400 before the store');

    $r = $t->get("/v2/$pid/instances/$iid/hotkey-tasks/?limit=0");
    is_json_error($r, 404, 'DCS.4001', 'The requested URL does not exist.',
                  'bad path (hotkey-tasks/) with a bad limit: 404 first');
    $r = $t->get('/v2/' . uc($pid) . '/instances/' . uc($iid) . '/hotkey-taskz?limit=0');
    is_json_error($r, 404, 'DCS.4001', 'The requested URL does not exist.',
                  'bad path with bad IDs and a bad limit: 404 first');
    $r = $t->get("/v2/$pid/instance/$iid/hotkey-tasks?status=bad");
    is_json_error($r, 404, 'DCS.4001', 'The requested URL does not exist.',
                  'bad path (instance singular) with a bad status: 404');

    for my $m (qw(POST DELETE)) {
        $r = $t->request($m, $t->list_path(uc $pid, uc $iid, 'limit=0&status=x'));
        is_json_error($r, 405, 'DCS.5001', 'This request method is not allowed.',
                      "$m on the route with bad IDs and bad query: 405 first");
        $r = $t->request($m, $t->list_path($pid, $iid, 'limit=0'));
        is_json_error($r, 405, 'DCS.5001', 'This request method is not allowed.',
                      "$m on the route with a bad limit: 405");
    }
    $r = $t->request('POST', "/v2/$pid/instances/$iid/nothing?limit=0");
    is_json_error($r, 404, 'DCS.4001', 'The requested URL does not exist.',
                  'POST on a path that is no route: 404');
}

# the message names the parameter, nothing else from the request
{
    my $r = $t->list($pid, $iid, 'limit=%3Cscript%3E');
    unlike($r->{body} // '', qr/script/i, 'the error does not echo the value');
}

$t->done;
