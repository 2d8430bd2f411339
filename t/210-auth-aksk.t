#!/usr/bin/perl
# AK/SK signatures against a real nginx + module + redis (SDK-HMAC-SHA256,
# and every other scheme the SDKs sign with, from hotkeyctl sign --scheme):
# a credentials file written here (0600), headers from hotkeyctl sign, then
# one byte changed in each signed part, X-Sdk-Date skew edges (default
# 15 min) computed from the clock, unknown keys, malformed Authorization
# values, unsigned or missing signed headers, X-Project-Id, project and
# action permissions, rate/burst fields, the order of checks, nginx -t on
# the credentials file, and the expected signature (computed here with
# the right SK) never shown in a response or the log.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Auth qw(:all);

my $t = Hotkey::Test->new;
$t->start_redis;

my $pid = hex32();
my $other = hex32();
my $iid = uuid();
my $iid2 = uuid();
$t->add_instance($iid, project => $pid);
$t->add_instance($iid2, project => $other);
my @tasks = $t->add_tasks($iid, map { { status => $_ } } qw(success running waiting failed success));
my @tasks2 = $t->add_tasks($iid2, { status => 'success' });
my $LIST = expected_list($iid, \@tasks);
my $path = $t->list_path($pid, $iid);

my $IAM = 'Incorrect IAM authentication information: ';
my $FORBID = 'Policy does not allow dcs:instance:listHotKey to be performed.';
my $SIGFAIL = "${IAM}verify aksk signature fail";
my $EXPIRED = "${IAM}request expired";
my $MALFORMED = "${IAM}malformed authorization header";

# secret keys with characters that need care (no '#', no blanks)
my %sk = (
    AKGOOD  => 'Sk/+=' . join('', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[rand 62] } 1 .. 35) . '!$%&*',
    AKALL   => join('', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[rand 62] } 1 .. 40),
    AKOTHER => join('', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[rand 62] } 1 .. 40),
    AKNOACT => join('', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[rand 62] } 1 .. 40),
    AKRATE  => join('', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[rand 62] } 1 .. 40),
    'ak.two-3_x' => join('', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[rand 62] } 1 .. 40),
    AKSM2ONLY => join('', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[rand 62] } 1 .. 40),
    AKV11   => join('', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[rand 62] } 1 .. 40),
);
my $creds = $t->prefix . '/conf/credentials';
spew($creds, <<"EOF", 0600);
# AK SK projects= actions= [name=] [rate=] [burst=]
AKGOOD $sk{AKGOOD} projects=$pid actions=dcs:instance:listHotKey name=alice

AKALL\t$sk{AKALL}\tprojects=*\tactions=*\tname=ops rate=1000r/s burst=100
AKOTHER $sk{AKOTHER} projects=$other actions=dcs:instance:listHotKey,dcs:instance:analyze name=other
AKNOACT $sk{AKNOACT} projects=$pid,$other actions=dcs:instance:analyze,dcs:instance:getHotKeyAutoScanConfig name=noact
AKRATE $sk{AKRATE} projects=$other,$pid actions=dcs:instance:* rate=600r/m burst=50
ak.two-3_x $sk{'ak.two-3_x'} projects=$pid actions=dcs:*:*
AKSM2ONLY $sk{AKSM2ONLY} projects=$pid actions=* schemes=SDK-SM2-SM3
AKV11 $sk{AKV11} projects=$pid actions=* region=cn-north-4 service=dcs
EOF
is(sprintf('%o', (stat $creds)[2] & 07777), '600', 'credentials file is mode 0600');

my $plog = $t->prefix . '/logs/principal.log';
my $http = "    log_format principal '\$hotkey_principal \$status \$request_uri';\n"
    . auth_server($t, creds => $creds,
                  server_extra => "        access_log $plog principal;\n"
                                . "        large_client_header_buffers 4 64k;\n"
                                . "        client_body_buffer_size 16k;\n");
$t->start_nginx($http);
my $port = $t->nginx_port;
my $host = "127.0.0.1:$port";

my @expected_sigs;    # right signatures of refused requests: never shown

# sign(%o): headers of a signed request (list of [name, value]);
# o: ak, sk, method, path (with query), headers ['N: v'], data, date, signed
sub sign {
    my (%o) = @_;
    my $ak = $o{ak} // 'AKGOOD';
    # hotkeyctl prints X-Sdk-Date, Authorization and Host; the --header
    # ones are sent as given
    return [ (map { [ /^([^:]+):\s*(.*)$/ ] } @{ $o{headers} || [] }),
             signed_headers($t, ak => $ak, sk => $o{sk} // $sk{$ak},
                          url => "http://$host" . ($o{path} // $path),
                          method => $o{method}, headers => $o{headers},
                          data => $o{data}, date => $o{date}, signed => $o{signed},
                          scheme => $o{scheme}, region => $o{region}, service => $o{service}) ];
}

# send_signed(\@headers, %o): sends with these headers (plus o{extra}),
# method, path, body
sub send_signed {
    my ($h, %o) = @_;
    my @h = map { @$_ } @$h;
    push @h, @{ $o{extra} || [] };
    return $t->request($o{method} || 'GET', $o{path} // $path, \@h, $o{body});
}

sub hdr { my ($h, $n) = @_; my ($x) = grep { lc $_->[0] eq lc $n } @$h; $x ? $x->[1] : undef }

sub set_hdr {
    my ($h, $n, $v) = @_;
    return [ map { lc $_->[0] eq lc $n ? [ $_->[0], $v ] : $_ } @$h ];
}

sub drop_hdr { my ($h, $n) = @_; [ grep { lc $_->[0] ne lc $n } @$h ] }

sub sig_of { (hdr($_[0], 'Authorization') =~ /Signature=([0-9a-f]+)/)[0] }

# the signature the server must compute for what it receives (right SK)
sub expect_sig {
    my (%o) = @_;
    my ($p, $q) = split /\?/, $o{path} // $path, 2;
    my $auth = hdr($o{headers}, 'Authorization');
    my ($signed) = $auth =~ /SignedHeaders=([^,\s]+)/;
    my $s = aksk_signature(method => $o{method} || 'GET', path => $p, query => $q,
                           headers => $o{headers}, signed => $signed, body => $o{body},
                           date => hdr($o{headers}, 'X-Sdk-Date'), sk => $sk{ $o{ak} // 'AKGOOD' });
    push @expected_sigs, $s;
    return $s;
}

sub is_iam {
    my ($r, $reason, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return is_json_error($r, 401, 'APIGW.0301', "$IAM$reason", $name);
}

# ---------------------------------------------------------------- valid

{
    my $h = sign();
    is(scalar(grep { $_->[0] =~ /^(X-Sdk-Date|Authorization|Host)$/ } @$h), 3,
       'hotkeyctl sign gives X-Sdk-Date, Authorization, Host');
    is(sig_of($h), expect_sig(headers => $h), 'the Perl canonical request gives hotkeyctl\'s signature');
    pop @expected_sigs;
    is_json_ok(send_signed($h), $LIST, 'signed GET -> 200 with the list');
    is_json_ok(send_signed($h, extra => ['X-Unsigned' => 'anything', 'User-Agent' => 'perl']), $LIST,
               'extra unsigned headers do not matter -> 200');
    is_json_ok(send_signed($h), $LIST, 'the same signed request again (replay within the skew) -> 200');

    my $q = "$path?limit=2&offset=1";
    is_json_ok(send_signed(sign(path => $q), path => $q), expected_list($iid, \@tasks, offset => 1, limit => 2),
               'signed query limit=2&offset=1 -> 200, that page');
    $q = "$path?offset=1&limit=2&status=success&unknown=%7Ex%20y&empty=&flag";
    is_json_ok(send_signed(sign(path => $q), path => $q),
               expected_list($iid, \@tasks, offset => 1, limit => 2, status => 'success'),
               'query in any order, unknown params, %-escapes, empty value, bare name -> 200');
    $h = sign(headers => ['Content-Type: application/json', 'X-Project-Id: ' . $pid, 'X-Custom:   padded value  ']);
    is_json_ok(send_signed($h), $LIST, 'Content-Type, X-Project-Id and a padded custom header signed -> 200');
    is_json_ok(send_signed(sign(signed => 'host;x-sdk-date')), $LIST, 'SignedHeaders=host;x-sdk-date -> 200');
    is_json_ok(send_signed(sign(signed => 'x-sdk-date')), $LIST, 'SignedHeaders=x-sdk-date only -> 200');
    $h = sign(signed => 'host;x-sdk-date');
    my $a = hdr($h, 'Authorization');
    (my $a2 = $a) =~ s/SignedHeaders=host;x-sdk-date/SignedHeaders=Host;X-Sdk-Date/;
    is_json_ok(send_signed(set_hdr($h, 'Authorization', $a2)), $LIST,
               'SignedHeaders in mixed case -> 200');
    (my $a3 = $a) =~ s/^SDK-HMAC-SHA256 (Access=\S+), (SignedHeaders=\S+), (Signature=\S+)$/SDK-HMAC-SHA256   $3 ,$1,\t$2/;
    is_json_ok(send_signed(set_hdr($h, 'Authorization', $a3)), $LIST,
               'Authorization parameters in another order with other spacing -> 200');
    is_json_ok(send_signed(sign(ak => 'AKALL')), $LIST, 'projects=* actions=* key -> 200');
    is_json_ok(send_signed(sign(ak => 'AKRATE')), $LIST, 'key with rate=600r/m burst=50, two projects -> 200');
    is_json_ok(send_signed(sign(ak => 'ak.two-3_x')), $LIST, 'access key with . - _ and digits, actions dcs:*:* -> 200');
    is_json_ok(send_signed(sign(ak => 'AKOTHER', path => $t->list_path($other, $iid2)), path => $t->list_path($other, $iid2)),
               expected_list($iid2, \@tasks2), 'key of the other project on its own project -> 200');

    # a GET with a body: the body is hashed
    $h = sign(data => 'hello body');
    is_json_ok(send_signed($h, body => 'hello body'), $LIST, 'GET with a signed body -> 200');
    # the same body sent chunked
    is_json_ok(send_signed($h, body => "5\r\nhello\r\n5\r\n body\r\n0\r\n\r\n",
                           extra => ['Transfer-Encoding' => 'chunked']),
               $LIST, 'GET with the signed body sent chunked -> 200');
    is_json_error(send_signed($h, body => "5\r\nhello\r\n5\r\n bodY\r\n0\r\n\r\n",
                              extra => ['Transfer-Encoding' => 'chunked']),
                  401, 'APIGW.0301', $SIGFAIL, 'the chunked body with one byte changed -> 401');
}

# ---------------------------------------------------------------- one byte changed

{
    my $q = "$path?limit=3&offset=0";
    my $h = sign(path => $q, headers => ['X-Custom: abc'], data => 'the body');
    my %base = (headers => $h, path => $q, body => 'the body');
    is_json_ok(send_signed($h, path => $q, body => 'the body'), expected_list($iid, \@tasks, limit => 3),
               'base request (query, custom header, body) -> 200');

    (my $iidx = $iid) =~ s/(.)$/$1 eq 'a' ? 'b' : 'a'/e;
    (my $pidx = $pid) =~ s/^(.)/$1 eq 'a' ? 'b' : 'a'/e;
    my $host2 = "127.0.0.2:$port";
    my @cases = (
        ['the instance id in the path', path => "/v2/$pid/instances/$iidx/hotkey-tasks?limit=3&offset=0"],
        ['the project id in the path', path => "/v2/$pidx/instances/$iid/hotkey-tasks?limit=3&offset=0"],
        ['the query value (limit=3 -> limit=4)', path => "$path?limit=4&offset=0"],
        ['the query name (offset -> offsex)', path => "$path?limit=3&offsex=0"],
        ['a query parameter added', path => "$path?limit=3&offset=0&x=1"],
        ['the query removed', path => $path],
        ['the signed header X-Custom (abc -> abd)', headers => set_hdr($h, 'X-Custom', 'abd')],
        ['the signed Host', headers => set_hdr($h, 'Host', $host2)],
        ['the body (one byte)', body => 'the bodx'],
        ['the body removed', body => undef],
        ['a body added to it', body => 'the body!'],
        ['the method (GET -> HEAD)', method => 'HEAD'],
    );
    for my $c (@cases) {
        my ($what, %chg) = @$c;
        my %req = (%base, %chg);
        my $r = send_signed($req{headers}, path => $req{path}, body => $req{body}, method => $req{method});
        if (($req{method} // '') eq 'HEAD') {
            is($r->{status}, 401, "one change in $what -> 401");
            next;
        }
        is_json_error($r, 401, 'APIGW.0301', $SIGFAIL, "one change in $what -> 401 APIGW.0301 verify aksk signature fail");
        my $right = expect_sig(%req);
        unlike($r->{body} // '', qr/$right/i, "... the body does not show the expected signature");
    }

    # the date: one second later (still fresh) and one byte of the signature
    my $d = hdr($h, 'X-Sdk-Date');
    my ($Y, $M, $D, $hh, $mm, $ss) = $d =~ /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/;
    my $d2 = sdk_date(POSIX::mktime($ss, $mm, $hh, $D, $M - 1, $Y - 1900) - POSIX::mktime(0, 0, 0, 1, 0, 70) + 1);
    my $hd = set_hdr($h, 'X-Sdk-Date', $d2);
    my $r = send_signed($hd, path => $q, body => 'the body');
    is_json_error($r, 401, 'APIGW.0301', $SIGFAIL, 'X-Sdk-Date one second later (still fresh) -> 401 verify aksk signature fail');
    expect_sig(%base, headers => $hd);
    my $sig = sig_of($h);
    (my $sig2 = $sig) =~ s/(.)$/$1 eq '0' ? '1' : '0'/e;
    my $hs = set_hdr($h, 'Authorization', hdr($h, 'Authorization') =~ s/\Q$sig\E/$sig2/r);
    $r = send_signed($hs, path => $q, body => 'the body');
    is_json_error($r, 401, 'APIGW.0301', $SIGFAIL, 'one hex digit of the signature changed -> 401 verify aksk signature fail');
    unlike($r->{body}, qr/$sig/i, '... the body does not show the right signature');
    push @expected_sigs, $sig;
    # the signature of another secret key
    my $hw = sign(path => $q, headers => ['X-Custom: abc'], data => 'the body', sk => 'not-the-secret');
    $r = send_signed($hw, path => $q, body => 'the body');
    is_json_error($r, 401, 'APIGW.0301', $SIGFAIL, 'signed with the wrong secret key -> 401 verify aksk signature fail');
    my $right = expect_sig(%base, headers => $hw);
    unlike($r->{body}, qr/$right/i, '... the body does not show the right signature');
    # body not signed (signed as empty) but sent
    $hw = sign(path => $q, headers => ['X-Custom: abc']);
    $r = send_signed($hw, path => $q, body => 'surprise');
    is_json_error($r, 401, 'APIGW.0301', $SIGFAIL, 'a body sent with a request signed without one -> 401');
    expect_sig(%base, headers => $hw, body => 'surprise');
}

# ---------------------------------------------------------------- X-Sdk-Date skew

{
    my $S = int(time) + 2;
    my @off = (-899, 899, -900, 900, -901, 901, -960, 960, -86400);
    my %h = map { ($_ => sign(date => sdk_date($S + $_))) } @off;
    at_second($S);
    my %r = map { ($_ => send_signed($h{$_})) } @off;
    is_json_ok($r{-899}, $LIST, 'X-Sdk-Date 14 min 59 s in the past -> 200');
    is_json_ok($r{899}, $LIST, 'X-Sdk-Date 14 min 59 s in the future -> 200');
    is_json_ok($r{-900}, $LIST, 'X-Sdk-Date exactly 15 min in the past -> 200 (|delta| <= skew)');
    is_json_ok($r{900}, $LIST, 'X-Sdk-Date exactly 15 min in the future -> 200');
    is_json_error($r{-901}, 401, 'APIGW.0301', $EXPIRED, 'X-Sdk-Date 15 min 1 s in the past -> 401 request expired');
    is_json_error($r{901}, 401, 'APIGW.0301', $EXPIRED, 'X-Sdk-Date 15 min 1 s in the future -> 401 request expired');
    is_json_error($r{-960}, 401, 'APIGW.0301', $EXPIRED, 'X-Sdk-Date 16 min old -> 401 request expired');
    is_json_error($r{960}, 401, 'APIGW.0301', $EXPIRED, 'X-Sdk-Date 16 min ahead -> 401 request expired');
    is_json_error($r{-86400}, 401, 'APIGW.0301', $EXPIRED, 'X-Sdk-Date a day old -> 401 request expired');
    for my $o (-901, -960) {
        my $right = expect_sig(headers => $h{$o});
        unlike($r{$o}{body}, qr/$right/i, "expired ($o s): body does not show the signature");
    }
    # the date changed to a stale one: expired, before the signature
    my $stale = set_hdr($h{-899}, 'X-Sdk-Date', sdk_date(int(time) - 3600));
    is_json_error(send_signed($stale), 401, 'APIGW.0301', $EXPIRED, 'X-Sdk-Date replaced by one an hour old -> 401 request expired');

    for my $bad ('2024-03-01T00:00:00Z', sdk_date(time) =~ s/Z$//r, lc sdk_date(time), sdk_date(time) . 'Z',
                 '20241301T000000Z', '20240230T000000Z', '20240301T250000Z', '', 'now')
    {
        my $h = set_hdr(sign(), 'X-Sdk-Date', $bad);
        is_json_error(send_signed($h), 401, 'APIGW.0301', "${IAM}invalid x-sdk-date",
                      "X-Sdk-Date '$bad' -> 401 invalid x-sdk-date");
    }
}

# ---------------------------------------------------------------- the cache of verified requests

# Each worker keeps the requests whose signature it verified, by their
# Authorization value and canonical request, and does not verify them
# again.  Once a valid request is kept in both workers, whatever its
# signature covers, changed with the signature reused, is still refused,
# and the kept request still expires at the second its date goes stale.
{
    my $q = "$path?limit=2&offset=0";
    my %base = (path => $q, body => 'cached body');
    my $h = sign(path => $q, headers => ['X-Custom: cached'], data => $base{body});
    my $n = grep { $_->{status} == 200 } map { send_signed($h, %base) } 1 .. 8;
    is($n, 8, 'cache: one signed request sent 8 times (kept by both workers) -> 200 each time');
    my $sig = sig_of($h);
    (my $sig2 = $sig) =~ s/^(.)/$1 eq '0' ? '1' : '0'/e;
    my ($Y, $M, $D, $hh, $mm, $ss) = hdr($h, 'X-Sdk-Date') =~ /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/;
    my $d1 = sdk_date(POSIX::mktime($ss, $mm, $hh, $D, $M - 1, $Y - 1900) - POSIX::mktime(0, 0, 0, 1, 0, 70) - 1);
    my @cases = (
        ['its signature one digit off', headers => set_hdr($h, 'Authorization', hdr($h, 'Authorization') =~ s/\Q$sig\E/$sig2/r)],
        ['its signature on another query', path => "$path?limit=3&offset=0"],
        ['its signature on another path', path => $t->list_path($pid, $iid2) . '?limit=2&offset=0'],
        ['its signature with another signed header value', headers => set_hdr($h, 'X-Custom', 'cachee')],
        ['its signature with X-Sdk-Date a second earlier', headers => set_hdr($h, 'X-Sdk-Date', $d1)],
        ['its signature on another body', body => 'cached bodY'],
        ['its signature with no body', body => undef],
    );
    for my $c (@cases) {
        my ($what, %chg) = @$c;
        my %req = (headers => $h, %base, %chg);
        my @r = map { send_signed($req{headers}, path => $req{path}, body => $req{body}) } 1 .. 4;
        is(scalar(grep { $_->{status} == 401 && ($_->{body} // '') =~ /verify aksk signature fail/ } @r), 4,
           "cache: $what -> 401 verify aksk signature fail, 4 times");
    }
    is_json_ok(send_signed($h, %base), expected_list($iid, \@tasks, limit => 2), 'cache: the kept request still -> 200');

    # kept, then stale: refused from the first second past the skew
    my $S = int(time) + 2;
    my $hd = sign(date => sdk_date($S - 900));
    $n = grep { $_->{status} == 200 } map { send_signed($hd) } 1 .. 6;
    my $late = time >= $S + 1;
    is($n, 6, 'cache: X-Sdk-Date 15 min before second S, sent 6 times before S + 1 -> 200')
        or diag($late ? 'the machine was too slow: past S + 1' : '');
    at_second($S + 1);
    my @r = map { send_signed($hd) } 1 .. 6;
    is(scalar(grep { $_->{status} == 401 && ($_->{body} // '') =~ /request expired/ } @r), 6,
       'cache: the same request at S + 1 -> 401 request expired, 6 times');
}

# ---------------------------------------------------------------- keys and headers

{
    my $h = sign(ak => 'AKNOPE', sk => 'whatever');
    is_json_error(send_signed($h), 401, 'APIGW.0301', "${IAM}unknown access key", 'unknown access key -> 401');
    $h = sign(ak => 'akgood', sk => $sk{AKGOOD});
    is_json_error(send_signed($h), 401, 'APIGW.0301', "${IAM}unknown access key",
                  'access key in another case -> 401 unknown access key');

    my $good = sign();
    my $auth = hdr($good, 'Authorization');
    my ($ak, $sh, $sg) = $auth =~ /Access=([^,]+), SignedHeaders=([^,]+), Signature=(\w+)/;
    for my $c (['SDK-HMAC-SHA256', 'scheme only'],
               ['SDK-HMAC-SHA256 ', 'scheme and a space'],
               ["SDK-HMAC-SHA256 Access=$ak", 'Access only'],
               ["SDK-HMAC-SHA256 Access=$ak, SignedHeaders=$sh", 'no Signature'],
               ["SDK-HMAC-SHA256 SignedHeaders=$sh, Signature=$sg", 'no Access'],
               ["SDK-HMAC-SHA256 Access=$ak, Signature=$sg", 'no SignedHeaders'],
               ["SDK-HMAC-SHA256 Access=$ak, Access=$ak, SignedHeaders=$sh, Signature=$sg", 'Access twice'],
               ["SDK-HMAC-SHA256 Access=$ak, SignedHeaders=$sh, Signature=" . substr($sg, 1), 'Signature of 63 hex digits'],
               ["SDK-HMAC-SHA256 Access=$ak, SignedHeaders=$sh, Signature=${sg}0", 'Signature of 65 hex digits'],
               ["SDK-HMAC-SHA256 Access=$ak, SignedHeaders=$sh, Signature=" . ('z' x 64), 'Signature not hex'],
               ["SDK-HMAC-SHA256 Access=$ak, SignedHeaders=, Signature=$sg", 'empty SignedHeaders'],
               ["SDK-HMAC-SHA256 Access=$ak, SignedHeaders=host;;x-sdk-date, Signature=$sg", 'empty name in SignedHeaders'],
               ["SDK-HMAC-SHA256 Access=$ak, SignedHeaders=host;x-sdk-date;host, Signature=$sg", 'a name twice in SignedHeaders'],
               ["SDK-HMAC-SHA256 Access=, SignedHeaders=$sh, Signature=$sg", 'empty Access'],
               ["SDK-HMAC-SHA256 Access=$ak SignedHeaders=$sh Signature=$sg", 'no commas'],
               ["SDK-HMAC-SHA256 Access=$ak, SignedHeaders=$sh, Signature=$sg, Extra=1", 'an unknown parameter'],
               ["SDK-HMAC-SHA256 Access=$ak, SignedHeaders=$sh, Signature=$sg,", 'a trailing comma'],
               ["SDK-HMAC-SHA256 Access=" . ('A' x 200) . ", SignedHeaders=$sh, Signature=$sg", 'Access of 200 bytes'],
               ["SDK-HMAC-SHA256 " . ('x' x 30000), '30000 bytes of junk'])
    {
        my $r = send_signed(set_hdr($good, 'Authorization', $c->[0]));
        is_json_error($r, 401, 'APIGW.0301', $MALFORMED, "Authorization with $c->[1] -> 401 malformed authorization header");
    }
    # api.md section 5: a scheme the gateway does not verify is a
    # signature all the same
    my $UNSUPPORTED = 'Incorrect IAM authentication information: unsupported signing algorithm';
    for my $c (['Basic dXNlcjpwYXNz', 'Basic'], ['Bearer abc.def.ghi', 'Bearer'],
               ["SDK-HMAC-SHA256Access=$ak, SignedHeaders=$sh, Signature=$sg", 'no space after the scheme'],
               ["sdk-hmac-sha256 Access=$ak, SignedHeaders=$sh, Signature=$sg", 'a lowercase scheme'],
               ["AWS4-HMAC-SHA256 Credential=$ak/20191115/us-east-1/s3/aws4_request, SignedHeaders=$sh, Signature=$sg",
                'AWS4-HMAC-SHA256'],
               ["SDK-HMAC-SHA512 Access=$ak, SignedHeaders=$sh, Signature=$sg", 'SDK-HMAC-SHA512 (no SDK signs with it)'],
               ['  x', 'one letter after blanks'],
               ['Z' x 30000, '30000 bytes of one word'])
    {
        is_json_error(send_signed(set_hdr($good, 'Authorization', $c->[0])), 401, 'APIGW.0301',
                      $UNSUPPORTED, "Authorization: $c->[1] -> 401 APIGW.0301 unsupported signing algorithm");
    }
    is_json_error(send_signed(set_hdr($good, 'Authorization', '')), 401, 'DCS.1003',
                  'No token in the request.', 'empty Authorization -> 401 DCS.1003');
    is_json_error(send_signed(drop_hdr($good, 'Authorization')), 401, 'DCS.1003',
                  'No token in the request.', 'X-Sdk-Date without Authorization -> 401 DCS.1003');

    # x-sdk-date not signed; signed headers missing or repeated
    $h = sign(signed => 'host');
    is_json_error(send_signed($h), 401, 'APIGW.0301', "${IAM}signed headers must include x-sdk-date",
                  'x-sdk-date not among the signed headers -> 401');
    $h = sign(headers => ['X-Custom: v'], signed => 'host;x-custom');
    is_json_error(send_signed($h), 401, 'APIGW.0301', "${IAM}signed headers must include x-sdk-date",
                  'x-sdk-date sent but not signed -> 401');
    $h = sign(headers => ['X-Custom: v']);
    is_json_error(send_signed(drop_hdr($h, 'X-Custom')), 401, 'APIGW.0301', "${IAM}signed header not in the request",
                  'a signed header (X-Custom) missing -> 401 signed header not in the request');
    is_json_error(send_signed(drop_hdr($h, 'X-Sdk-Date')), 401, 'APIGW.0301', "${IAM}signed header not in the request",
                  'X-Sdk-Date signed but missing -> 401 signed header not in the request');
    is_json_error(send_signed($h, extra => ['X-Custom' => 'v']), 401, 'APIGW.0301', "${IAM}signed header repeated",
                  'a signed header sent twice -> 401 signed header repeated');
    is_json_error(send_signed($h, extra => ['X-Sdk-Date' => hdr($h, 'X-Sdk-Date')]), 401, 'APIGW.0301',
                  "${IAM}signed header repeated", 'X-Sdk-Date sent twice -> 401 signed header repeated');

    # a signed header too large for the canonical request (16 KiB)
    $h = sign(headers => ['X-Big: ' . ('b' x 20000)]);
    is_json_error(send_signed($h), 401, 'APIGW.0301', "${IAM}request too large to verify",
                  'a 20000-byte signed header -> 401 request too large to verify');
    # bodies larger than the in-memory body buffer go to a temporary file:
    # the signature covers them all the same
    for my $n (8192 + 1, 12000, 16384, 65536) {
        my $big = 'B' x $n;
        $h = sign(data => $big);
        my $r = send_signed($h, body => $big);
        is($r->{status}, 200, "a $n-byte signed body (beyond client_body_buffer_size) -> 200");
        $h = sign(data => $big);
        substr($big, $n - 1, 1) = 'C';
        is_json_error(send_signed($h, body => $big), 401, 'APIGW.0301',
                      $SIGFAIL,
                      "the same $n-byte body with its last byte changed -> 401");
    }
    # a bad percent escape in the path
    my $pp = "/v2/$pid/instances/$iid/hotkey-tasks?limit=%zz";
    $h = sign(path => "$path?limit=1");
    is_json_error(send_signed($h, path => $pp), 401, 'APIGW.0301', "${IAM}invalid percent-encoding in the uri",
                  'a query with a bad percent escape -> 401 invalid percent-encoding in the uri');
}

# ---------------------------------------------------------------- X-Project-Id, permissions

{
    my $h = sign(headers => ["X-Project-Id: $pid"]);
    is_json_ok(send_signed($h), $LIST, 'X-Project-Id (signed) equal to the path project -> 200');
    $h = sign(headers => ["X-Project-Id: $other"]);
    is_json_error(send_signed($h), 401, 'APIGW.0301', "${IAM}x-project-id does not match the uri",
                  'X-Project-Id (signed) of another project -> 401 x-project-id does not match the uri');
    $h = sign();
    is_json_ok(send_signed($h, extra => ['X-Project-Id' => $pid]), $LIST, 'X-Project-Id unsigned and equal -> 200');
    is_json_error(send_signed($h, extra => ['X-Project-Id' => $other]), 401, 'APIGW.0301',
                  "${IAM}x-project-id does not match the uri", 'X-Project-Id unsigned and different -> 401');
    $h = sign(headers => ['X-Project-Id: ' . uc $pid]);
    is_json_error(send_signed($h), 401, 'APIGW.0301', "${IAM}x-project-id does not match the uri",
                  'X-Project-Id in upper case -> 401 (exact match)');

    is_json_error(send_signed(sign(ak => 'AKOTHER')), 403, 'DCS.2007', $FORBID,
                  'key not allowed on this project -> 403 DCS.2007');
    is_json_error(send_signed(sign(ak => 'AKNOACT')), 403, 'DCS.2007', $FORBID,
                  'key on the project without dcs:instance:listHotKey -> 403 DCS.2007');
    is_json_error(send_signed(sign(ak => 'AKOTHER', path => "$path?limit=abc"), path => "$path?limit=abc"), 403,
                  'DCS.2007', $FORBID, 'forbidden key + bad query -> 403, not 400');
}

# ---------------------------------------------------------------- order of checks

{
    my $q = "$path?limit=abc&offset=-5";
    my $h = sign(path => $q);
    is_json_error(send_signed($h, path => $q), 400, 'DCS.4062', 'Invalid limit parameter in the request.',
                  'valid signature + bad limit -> 400 (auth passed first)');
    my $bad = set_hdr($h, 'Authorization', hdr($h, 'Authorization') =~ s/Signature=\w/Signature=f/r);
    $bad = set_hdr($h, 'X-Custom-None', 'x') if sig_of($bad) eq sig_of($h);
    is_json_error(send_signed($bad, path => "$path?limit=abc"), 401, 'APIGW.0301', $SIGFAIL,
                  'bad signature + bad limit -> 401, not 400');
    $h = sign(path => '/v2/NOT_HEX/instances/nope/hotkey-tasks', ak => 'AKNOPE', sk => 'x');
    is_json_error(send_signed($h, path => '/v2/NOT_HEX/instances/nope/hotkey-tasks'), 401, 'APIGW.0301',
                  "${IAM}unknown access key", 'unknown key + malformed ids -> 401, not 400');
    $h = sign(path => "/v2/$pid/instances/$iid/nope");
    is_json_error(send_signed(set_hdr($h, 'X-Sdk-Date', 'bad'), path => "/v2/$pid/instances/$iid/nope"), 404,
                  'DCS.4001', 'The requested URL does not exist.', 'bad signature on a non-route -> 404 (route first)');
    $h = sign(method => 'POST', data => '{}');
    my $r = send_signed(set_hdr($h, 'X-Sdk-Date', 'bad'), method => 'POST', body => '{}');
    is_json_error($r, 405, 'DCS.5001', 'This request method is not allowed.', 'bad signature, POST -> 405 (method first)');
    $r = send_signed($h, method => 'POST', body => '{}');
    is_json_error($r, 405, 'DCS.5001', 'This request method is not allowed.', 'valid POST signature -> 405');
}

# ---------------------------------------------------------------- principal

{
    my $q = "$path?limit=1&who=alice";
    send_signed(sign(path => $q), path => $q);
    $q = "$path?limit=1&who=rate";
    send_signed(sign(path => $q, ak => 'AKRATE'), path => $q);
    my $log = '';
    for (1 .. 50) {
        $log = slurp($plog);
        last if $log =~ /who=rate/;
        sleep 0.05;
    }
    like($log, qr/^alice 200 \S+who=alice$/m, '$hotkey_principal is the credential name');
    like($log, qr/^AKRATE 200 \S+who=rate$/m, '$hotkey_principal is the access key without a name');
}

# ---------------------------------------------------------------- nginx -t on the credentials file

{
    my %bad = (
        'rate'     => [ "AK1 sk1 projects=$pid actions=* rate=fast\n", 1 ],
        'burst'    => [ "# c\nAK1 sk1 projects=$pid actions=* burst=-1\n", 2 ],
        'action'   => [ "AK1 sk1 projects=$pid actions=dcs:instance:nope\n", 1 ],
        'dup'      => [ "AK1 sk1 projects=* actions=*\n\nAK1 sk2 projects=* actions=*\n", 3 ],
        'noproj'   => [ "AK1 sk1 actions=*\n", 1 ],
        'short'    => [ "AK1\n", 1 ],
        'badproj'  => [ "AK1 sk1 projects=NOT_HEX actions=*\n", 1 ],
        'unknown'  => [ "AK1 sk1 projects=* actions=* colour=blue\n", 1 ],
    );
    for my $n (sort keys %bad) {
        my $f = $t->prefix . "/conf/creds-$n";
        spew($f, $bad{$n}[0], 0600);
        my ($rc, $out) = $t->nginx_t(auth_server($t, port => free_port(), creds => $f));
        isnt($rc, 0, "credentials file with a bad line ($n): nginx -t fails");
        like($out, qr/\Q$f\E:$bad{$n}[1]\b/, "... naming $f:$bad{$n}[1]") or diag $out;
        unlike($out, qr/\bsk[12]\b/, '... without the secret key');
    }
    my ($rc, $out) = $t->nginx_t(auth_server($t, port => free_port(), creds => $t->prefix . '/conf/none'));
    isnt($rc, 0, 'missing credentials file: nginx -t fails');
    like($out, qr/\Q${\ $t->prefix}\E\/conf\/none/, '... naming the file');
    ($rc, $out) = $t->nginx_t(auth_server($t, port => free_port(), creds => $creds));
    is($rc, 0, 'the test\'s credentials file (rate, burst, tabs, blank line, comment) passes nginx -t') or diag $out;
    unlike($out, qr/mode 0600/, '... and, at mode 0600, draws no warning');

    my $open = $t->prefix . '/conf/creds-open';
    spew($open, "AK1 sk1 projects=* actions=*\n", 0644);
    ($rc, $out) = $t->nginx_t(auth_server($t, port => free_port(), creds => $open));
    is($rc, 0, 'a credentials file others can read still loads');
    like($out, qr/\[warn\].*\Q$open\E.*keep it at mode 0600/,
         '... with a warning that names it') or diag $out;
}

# ---------------------------------------------------------------- every SDK scheme

{
    my @v11 = (region => 'cn-north-4', service => 'dcs');
    for my $sc (['SDK-HMAC-SHA256'], ['SDK-HMAC-SM3'], ['V11-HMAC-SHA256', @v11],
                ['SDK-ECDSA-P256-SHA256'], ['SDK-SM2-SM3'])
    {
        my ($scheme, %x) = @$sc;
        my $ak = %x ? 'AKV11' : 'AKGOOD';
        my %o = (ak => $ak, scheme => $scheme, %x);
        my $h = sign(%o);
        like(hdr($h, 'Authorization'), qr/^\Q$scheme\E (Access|Credential)=$ak[, \/]/,
             "hotkeyctl sign --scheme $scheme: Authorization names the scheme");
        is_json_ok(send_signed($h), $LIST, "$scheme signed by hotkeyctl -> 200");
        my $sig = sig_of($h);
        (my $sigx = $sig) =~ s/(.)$/$1 eq '0' ? '1' : '0'/e;
        (my $auth = hdr($h, 'Authorization')) =~ s/\Q$sig\E/$sigx/;
        is_iam(send_signed(set_hdr($h, 'Authorization', $auth)), 'verify aksk signature fail',
               "$scheme: the signature's last hex digit changed -> 401");
        is_iam(send_signed(set_hdr($h, 'Host', "127.0.0.2:$port")), 'verify aksk signature fail',
               "$scheme: another signed Host -> 401");
        is_iam(send_signed($h, path => "$path?limit=1"), 'verify aksk signature fail',
               "$scheme: a query added -> 401");
        is_iam(send_signed(sign(%o, date => sdk_date(int(time) - 16 * 60))), 'request expired',
               "$scheme: X-Sdk-Date 16 min old -> 401 request expired");
        is_json_ok(send_signed(sign(%o, date => sdk_date(int(time) - 14 * 60))), $LIST,
                   "$scheme: X-Sdk-Date 14 min old -> 200");
        my $b = sign(%o, data => '{"a":"caf\x{e9}"}');
        is_json_ok(send_signed($b, body => '{"a":"caf\x{e9}"}'), $LIST,
                   "$scheme: a body, hashed with the scheme's hash -> 200");
        is_iam(send_signed($b, body => '{"a":"cafe"}'), 'verify aksk signature fail',
               "$scheme: the body changed -> 401");
        (my $huge = hdr($h, 'Authorization')) =~ s/\Q$sig\E/'ab' x 5000/e;
        is_iam(send_signed(set_hdr($h, 'Authorization', $huge)), 'malformed authorization header',
               "$scheme: a 10000-digit signature -> 401 malformed");
    }

    my $ONLY = 'signing algorithm not allowed for this access key';
    is_json_ok(send_signed(sign(ak => 'AKSM2ONLY', scheme => 'SDK-SM2-SM3')), $LIST,
               'schemes=SDK-SM2-SM3: an SM2 signature -> 200');
    is_iam(send_signed(sign(ak => 'AKSM2ONLY')), $ONLY,
           'schemes=SDK-SM2-SM3: an SDK-HMAC-SHA256 signature -> 401 not allowed');
    is_iam(send_signed(sign(ak => 'AKSM2ONLY', scheme => 'SDK-ECDSA-P256-SHA256')), $ONLY,
           'schemes=SDK-SM2-SM3: an ECDSA signature -> 401 not allowed');
    is_iam(send_signed(sign(ak => 'AKV11', scheme => 'V11-HMAC-SHA256', region => 'cn-north-1', service => 'dcs')),
           'invalid credential scope', 'region=cn-north-4: V11 signed for cn-north-1 -> 401 invalid credential scope');
    is_iam(send_signed(sign(ak => 'AKNOBODY', sk => 'x', scheme => 'SDK-SM2-SM3')), 'unknown access key',
           'SDK-SM2-SM3 with an unknown AK -> 401 unknown access key');

    # the derived key of one AK/SK is not the key of another AK with the
    # same SK: an ECDSA signature made for AKGOOD under AKALL's name
    my $h = sign(ak => 'AKGOOD', scheme => 'SDK-ECDSA-P256-SHA256');
    (my $a2 = hdr($h, 'Authorization')) =~ s/Access=AKGOOD/Access=AKALL/;
    is_iam(send_signed(set_hdr($h, 'Authorization', $a2)), 'verify aksk signature fail',
           'an ECDSA signature of AKGOOD sent as AKALL -> 401');
}

# ---------------------------------------------------------------- secrets

{
    my $log = $t->log_text;
    my $al = slurp($t->prefix . '/logs/access.log') . slurp($plog);
    for my $ak (sort keys %sk) {
        unlike($log, qr/\Q$sk{$ak}\E/, "the secret key of $ak is not in the error log");
    }
    ok(scalar(@expected_sigs) >= 10, scalar(@expected_sigs) . ' expected signatures of refused requests computed');
    my @leak = grep { index($log, $_) >= 0 || index($al, $_) >= 0 } @expected_sigs;
    is(scalar @leak, 0, 'no expected signature is in the error or access log')
        or diag("found: @leak");
}

$t->done;
