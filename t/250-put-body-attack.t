#!/usr/bin/perl
# Attacks on the PUT hotkey/autoscan body (api.md section 7): sizes around
# the 8 KiB bound, chunked, in nginx's temporary file, far over
# client_max_body_size; JSON that cJSON lets through but that is not JSON
# (invalid UTF-8, raw control characters in strings, "+1" and "01",
# control bytes as whitespace); JSON that is valid but unusual (a NUL in an
# unknown field, a BOM, deep nesting); the field rules (24/25 times,
# "24:00", " 03:30", duplicates, numbers as booleans).  Every error answer
# is the contract's JSON, and a keepalive connection answers the next
# request after each of them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);

my $top = Hotkey::Test->top;
use Hotkey::Attack qw(:all);

my $t = Hotkey::Test->new(workers => 1);
$t->start_redis;
my $P = hex32();
my $I = uuid();
$t->add_instance($I, project => $P);

# a small body buffer: anything over 1 KiB goes to a temporary file
$t->start_nginx($t->api_server(server_extra => "        client_body_buffer_size 1k;\n"
                                               . "        include $top/conf-examples/json-errors.conf;\n"));

my $path = "/v2/$P/instances/$I/hotkey/autoscan";
my $M4005 = 'The message body contains invalid characters or is not in JSON format.';
my $M4004 = 'Empty request body.';

sub put { my ($body, @h) = @_; $t->request('PUT', $path, [@h], $body) }

sub ok_put {
    my ($body, $times, $name) = @_;
    my $r = put($body);
    my $ok = ($r->{status} // 0) == 200 && ref $r->{json} eq 'HASH'
             && is_deeply($r->{json}{schedule_at}, $times, "$name: schedule_at");
    ok($ok, "$name: 200") or diag(($r->{status} // 'none') . ' ' . ($r->{body} // ''));
}

sub bad_put {
    my ($body, $code, $msg, $name, @h) = @_;
    is_json_error(put($body, @h), 400, $code, $msg, $name);
}

my $good = '{"enable_auto_scan":true,"schedule_at":["21:00","03:30"]}';
ok_put($good, ['03:30', '21:00'], 'the contract example');

# ------------------------------------------------------------ sizes
{
    # exactly 8192 bytes (JSON whitespace padding): accepted
    my $b = $good . (' ' x (8192 - length $good));
    is(length $b, 8192, 'an 8192-byte body');
    ok_put($b, ['03:30', '21:00'], '8192 bytes (in the temporary file)');
    bad_put($b . ' ', 'DCS.4005', $M4005, '8193 bytes: DCS.4005');

    # far over client_max_body_size (1m): nginx refuses it before any
    # module runs; json-errors.conf makes that answer JSON too
    my $big = $good . (' ' x (2 * 1024 * 1024));
    my $r = put($big);
    is_json_error($r, 413, 'DCS.4000', 'Request body too large.',
                  'a 2 MiB body (over client_max_body_size): 413 DCS.4000 JSON');
}

# ------------------------------------------------------------ chunked
{
    my $b = $good;
    my $chunked = join('', map { sprintf("%x\r\n%s\r\n", length $_, $_) }
                           unpack('(a7)*', $b)) . "0\r\n\r\n";
    my $r = $t->request('PUT', $path, ['Transfer-Encoding' => 'chunked'], $chunked);
    is($r->{status}, 200, 'chunked body in 7-byte chunks: 200');
    my $big = $good . (' ' x 9000);
    $chunked = join('', map { sprintf("%x\r\n%s\r\n", length $_, $_) }
                        unpack('(a1000)*', $big)) . "0\r\n\r\n";
    $r = $t->request('PUT', $path, ['Transfer-Encoding' => 'chunked'], $chunked);
    is_json_error($r, 400, 'DCS.4005', $M4005, 'chunked, 9 KiB: DCS.4005');
    $r = $t->request('PUT', $path, ['Transfer-Encoding' => 'chunked'], "0\r\n\r\n");
    is_json_error($r, 400, 'DCS.4004', $M4004, 'chunked, empty: DCS.4004');
    bad_put('', 'DCS.4004', $M4004, 'Content-Length: 0: DCS.4004');
}

# ------------------------------------------------------------ not JSON
my %notjson = (
    'invalid UTF-8 in an unknown field' =>
        qq({"enable_auto_scan":true,"schedule_at":["03:30"],"x":"\xff\xfe"}),
    'an overlong encoding in an unknown field' =>
        qq({"enable_auto_scan":true,"schedule_at":["03:30"],"x":"\xc0\xaf"}),
    'a raw newline inside a string' =>
        qq({"enable_auto_scan":true,"schedule_at":["03:30"],"x":"a\nb"}),
    'a raw control byte (0x01) inside a string' =>
        qq({"enable_auto_scan":true,"schedule_at":["03:30"],"x":"a\x01b"}),
    'a number with a plus sign' =>
        qq({"enable_auto_scan":true,"schedule_at":["03:30"],"x":+1}),
    'a number with a leading zero' =>
        qq({"enable_auto_scan":true,"schedule_at":["03:30"],"x":01}),
    'a number ".5"' =>
        qq({"enable_auto_scan":true,"schedule_at":["03:30"],"x":.5}),
    'a vertical tab as whitespace' =>
        qq(\x0b{"enable_auto_scan":true,"schedule_at":["03:30"]}),
    'a 0x01 byte as whitespace between tokens' =>
        qq({"enable_auto_scan":\x01true,"schedule_at":["03:30"]}),
    'trailing garbage' => $good . 'x',
    'two documents' => $good . $good,
    'a trailing comma' =>
        qq({"enable_auto_scan":true,"schedule_at":["03:30"],}),
    'single quotes' => qq({'enable_auto_scan':true,'schedule_at':['03:30']}),
    'an array' => qq([{"enable_auto_scan":true,"schedule_at":["03:30"]}]),
    'a string' => qq("{}"),
    'null' => 'null',
    'a lone surrogate escape' =>
        qq({"enable_auto_scan":true,"schedule_at":["03:30"],"x":"\\ud800"}),
    'a comment' => qq({"enable_auto_scan":true,/*c*/"schedule_at":["03:30"]}),
    'nesting 5000 deep' =>  '{"x":' . ('[' x 4000) . (']' x 4000) . '}',
    'a raw NUL byte' =>
        qq({"enable_auto_scan":true,"schedule_at":["03:30"],"x":"a\x00b"}),
);
for my $name (sort keys %notjson) {
    bad_put($notjson{$name}, 'DCS.4005', $M4005, "$name: DCS.4005");
}

# ------------------------------------------------------------ valid JSON, odd
ok_put(qq({"enable_auto_scan":true,"schedule_at":["03:30"],"note":"a\\u0000b"}),
       ['03:30'], 'an escaped NUL in an unknown field (valid JSON, ignored)');
ok_put(qq(\xef\xbb\xbf{"enable_auto_scan":true,"schedule_at":["04:30"]}),
       ['04:30'], 'a UTF-8 BOM (RFC 8259 lets a parser ignore it)')
    if 0;    # either answer is allowed: not asserted
ok_put(qq({"x":{"y":[[[[1]]]]},"enable_auto_scan":false,"schedule_at":[],"z":null}),
       [], 'unknown nested fields are ignored');
ok_put(qq( \r\n\t{"enable_auto_scan" : false , "schedule_at" : [ "00:00" , "23:59" ] } \n),
       ['00:00', '23:59'], 'JSON whitespace everywhere; false with times');
ok_put(qq({"enable_auto_scan":true,"schedule_at":["\\u0030\\u0033:30"]}),
       ['03:30'], 'escaped digits in a time');

# ------------------------------------------------------------ the fields
my @at24 = map { sprintf '"%02d:%02d"', $_, 7 } 0 .. 23;
ok_put('{"enable_auto_scan":true,"schedule_at":[' . join(',', reverse @at24) . ']}',
       [map { sprintf '%02d:07', $_ } 0 .. 23], '24 distinct times, sorted');
my $F1 = 'Invalid enable_auto_scan parameter in the request.';
my $F2 = 'Invalid schedule_at parameter in the request.';
my %badfield = (
    '25 times' => ['{"enable_auto_scan":true,"schedule_at":[' . join(',', @at24, '"12:34"') . ']}', $F2],
    '"24:00"' => ['{"enable_auto_scan":true,"schedule_at":["24:00"]}', $F2],
    '"23:60"' => ['{"enable_auto_scan":true,"schedule_at":["23:60"]}', $F2],
    '" 03:30"' => ['{"enable_auto_scan":true,"schedule_at":[" 03:30"]}', $F2],
    '"3:30"' => ['{"enable_auto_scan":true,"schedule_at":["3:30"]}', $F2],
    '"03:30:00"' => ['{"enable_auto_scan":true,"schedule_at":["03:30:00"]}', $F2],
    '"03:3\u0000"' => ['{"enable_auto_scan":true,"schedule_at":["03:3"]}', $F2],
    'a time twice' => ['{"enable_auto_scan":true,"schedule_at":["03:30","21:00","03:30"]}', $F2],
    'a time as a number' => ['{"enable_auto_scan":true,"schedule_at":[330]}', $F2],
    'schedule_at a string' => ['{"enable_auto_scan":true,"schedule_at":"03:30"}', $F2],
    'schedule_at null' => ['{"enable_auto_scan":false,"schedule_at":null}', $F2],
    'true with no times' => ['{"enable_auto_scan":true,"schedule_at":[]}', $F2],
    'schedule_at missing' => ['{"enable_auto_scan":false}', $F2],
    'enable 1' => ['{"enable_auto_scan":1,"schedule_at":["03:30"]}', $F1],
    'enable "true"' => ['{"enable_auto_scan":"true","schedule_at":["03:30"]}', $F1],
    'enable null' => ['{"enable_auto_scan":null,"schedule_at":["03:30"]}', $F1],
    'enable missing, schedule bad too' => ['{"schedule_at":[1]}', $F1],
    'enable twice' => ['{"enable_auto_scan":true,"enable_auto_scan":false,"schedule_at":["03:30"]}', $F1],
    'a field name with different case' => ['{"Enable_Auto_Scan":true,"schedule_at":["03:30"]}', $F1],
    'an empty object' => ['{}', $F1],
);
for my $name (sort keys %badfield) {
    bad_put($badfield{$name}[0], 'DCS.4063', $badfield{$name}[1], "$name: DCS.4063");
}

# ------------------------------------------------------------ keepalive
{
    my $c = Hotkey::Attack::Conn->new($t);
    my @seq = (
        ['PUT', $path, [], 'x', 400],
        ['PUT', $path, [], $good . (' ' x 9000), 400],
        ['PUT', $path, [], '', 400],
        ['PUT', $path, [], '{"enable_auto_scan":1}', 400],
        ['GET', $path, [], 'a body on a GET', 200],
        ['DELETE', "/v2/$P/instances/$I/hotkey-task/" . uuid(), [], 'junk', 400],
        ['POST', "/v2/$P/instances/$I/hotkey/autoscan", [], 'junk', 405],
        ['HEAD', $path, [], undef, 200],
        ['PUT', $path, [], $good, 200],
    );
    my $i = 0;
    for my $s (@seq) {
        $i++;
        my $r = $c->ask($s->[0], $s->[1], $s->[2], body => $s->[3], timeout => 5);
        is($r->{status}, $s->[4], "keepalive $i: $s->[0] answered $s->[4]")
            or diag($r->{error} // $r->{body});
    }
    my $r = $c->ask('GET', $path, [], timeout => 5);
    is($r->{status}, 200, 'keepalive: still answering at the end');
    $c->close;

    # pipelined: three requests written at once, three answers in order
    my $req = '';
    for my $b ('nope', $good, '') {
        $req .= "PUT $path HTTP/1.1\r\nHost: x\r\nContent-Length: " . length($b) . "\r\n\r\n$b";
    }
    my $res = $t->raw($req, responses => 3);
    is_deeply([map { $_->{status} } @$res], [400, 200, 400],
              'pipelined PUTs: three answers in order');
}

# ------------------------------------------------------------ client aborts
{
    # a Content-Length larger than what is sent, then the client goes
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->nginx_port);
    print $s "PUT $path HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" . ('{' x 2000);
    sleep 0.2;
    close $s;
    my $r = $t->get($path);
    is($r->{status}, 200, 'after a client left mid-body, the next request is answered');
}

idle_check($t, 'no worker spins after the body attacks');
$t->done;
