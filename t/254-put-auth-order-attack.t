#!/usr/bin/perl
# The PUT body and authentication (api.md sections 4, 5, 7): a signed body
# kept in nginx's temporary file (client_body_buffer_size 1k) is verified;
# a body that is not the signed one is refused; the order of checks holds
# for bodies (401 before any body error, even for a body far over
# client_max_body_size: an unauthenticated caller learns nothing and gets
# the contract's JSON); a body on GET/DELETE/POST is hashed for AK/SK.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Hotkey::Test qw(:all);
use Hotkey::Auth qw(:all);

my $t = Hotkey::Test->new(workers => 1);
$t->start_redis;
my $P = hex32();
my $I = uuid();
$t->add_instance($I, project => $P);
my ($AK, $SK) = ('PUTORDERAK01', 'put/SK+' . hex32());
my $ALL = 'dcs:instance:listHotKey,dcs:instance:analyze,dcs:instance:getHotKeyAutoScanConfig,'
        . 'dcs:instance:updateHotKeyAutoScanConfig';
my $creds = $t->prefix . '/conf/credentials';
spew($creds, "$AK $SK projects=* actions=$ALL name=all\n", 0600);
$t->start_nginx(auth_server($t, creds => $creds,
                            server_extra => "        client_body_buffer_size 1k;\n"));
my $base = 'http://127.0.0.1:' . $t->nginx_port;
my $path = "/v2/$P/instances/$I/hotkey/autoscan";
my $good = '{"enable_auto_scan":true,"schedule_at":["21:00","03:30"]}';

sub signed {
    my ($method, $p, $body, %o) = @_;
    my @h = signed_headers($t, ak => $AK, sk => $SK, url => $base . $p, method => $method,
                           headers => ['Content-Type: application/json'],
                           data => $o{signed_body} // $body);
    return $t->request($method, $p, ['Content-Type' => 'application/json', map { @$_ } @h], $body);
}

my $r = signed('PUT', $path, $good . (' ' x 8000));
is($r->{status}, 200, 'a signed 8 KiB body from the temporary file: 200')
    or diag($r->{body});
$r = signed('PUT', $path, $good . (' ' x 8200));
is_json_error($r, 400, 'DCS.4005',
              'The message body contains invalid characters or is not in JSON format.',
              'a signed 8.2 KiB body: 400 DCS.4005 (signature verified first)');
$r = signed('PUT', $path, $good, signed_body => $good . ' ');
is($r->{status}, 401, 'a body that is not the signed one: 401');
$r = signed('GET', $path, 'x' x 5000);
is($r->{status}, 200, 'a signed GET with a 5000-byte body (hashed from the file): 200');
$r = signed('GET', $path, 'x' x 5000, signed_body => 'y' x 5000);
is($r->{status}, 401, 'a GET whose body is not the signed one: 401');
$r = signed('POST', "/v2/$P/instances/$I/hotkey-task", '{"ignored":true}');
is($r->{status}, 200, 'a signed create with a body (only hashed): 200');

# the order of checks: no credentials, any body: 401 DCS.1003
for my $case (['a bad body', 'nope'], ['an empty body', '']) {
    is_json_error($t->request('PUT', $path, [], $case->[1]), 401, 'DCS.1003',
                  'No token in the request.', "no credentials, $case->[0]: 401 DCS.1003");
}
# a body over client_max_body_size is refused by nginx before any module
# runs (413, JSON through json-errors.conf, see t/250): the one exception
is($t->request('PUT', $path, [], 'x' x (2 * 1024 * 1024))->{status}, 413,
   'no credentials, a 2 MiB body (over client_max_body_size): nginx\'s 413');
is($t->get($path . '?x=1')->{status}, 401, 'still answering');
$t->done;
