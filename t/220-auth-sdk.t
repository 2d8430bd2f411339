#!/usr/bin/perl
# Interop with the official Huawei Cloud Node.js SDK core
# (@huaweicloud/huaweicloud-sdk-core): t/sdk/sign.js runs the SDK's own
# HcClient.buildRequest / AKSKSigner.sign (which signs every header of the
# request) and prints what it would send; the gateway must accept it, and
# refuse it with one byte changed in the path, the query, a signed header,
# the body, the date or the signature.  The same for the SDK's
# DerivedAKSKSigner (V11-HMAC-SHA256), with per-credential scope rules.  The SDK is installed by
# scripts/test-deps.sh into build/node (git-ignored); when it cannot be
# installed this test fails, it does not skip.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Auth qw(:all);

my $top = Hotkey::Test->top;
my $signjs = "$FindBin::Bin/sdk/sign.js";

# ---- the SDK
my ($rc, $out) = sh("$top/scripts/test-deps.sh");
is($rc, 0, 'scripts/test-deps.sh installs the SDK') or diag $out;
my $nodev = `node --version 2>&1`;
ok($? == 0, 'node is installed') or diag $nodev;
my $sdkdir = ($ENV{HOTKEY_BUILD} || "$top/build") . '/node/node_modules/@huaweicloud/huaweicloud-sdk-core';
ok(-f "$sdkdir/package.json", "the SDK is in $sdkdir") or do {
    diag('cannot run the interop tests without the SDK');
    done_testing();
    exit 1;
};
my $sdkver = eval { json_decode(slurp("$sdkdir/package.json"))->{version} } // '?';
note("huaweicloud-sdk-core $sdkver, node $nodev");

my $t = Hotkey::Test->new;
$t->start_redis;

my $pid = hex32();
my $iid = uuid();
$t->add_instance($iid, project => $pid);
my @tasks = $t->add_tasks($iid, map { { status => $_ } } qw(success running waiting failed success failed));
my $LIST = expected_list($iid, \@tasks);
my $path = $t->list_path($pid, $iid);

my $AK = 'SDKINTEROPAK01';
my $SK = 'sdk/SK+' . join('', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[rand 62] } 1 .. 32) . '=';
my $creds = $t->prefix . '/conf/credentials';
my $AKV = 'SDKV11AK02';
my $SKV = 'v11/SK+' . join('', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[rand 62] } 1 .. 32);
spew($creds, "$AK $SK projects=$pid actions=dcs:instance:listHotKey name=sdk\n"
             . "$AKV $SKV projects=$pid actions=dcs:instance:listHotKey name=v11"
             . " schemes=V11-HMAC-SHA256 region=cn-north-4 service=dcs\n", 0600);
$t->start_nginx(auth_server($t, creds => $creds));
my $base = 'http://127.0.0.1:' . $t->nginx_port;

my $SIGFAIL = 'Incorrect IAM authentication information: verify aksk signature fail';

# What the SDK sends for each request, signed in one node process (node
# and the SDK take about a second to start): {method, path, headers{},
# body}, or {status, body | error_code} for send => 1.
# spec: [$method, $path_and_query, body => JSON, raw_body => , headers =>
# ['N: v'], content_type => , project_id => , date => , send => 1, ak, sk]
sub sdk_batch {
    my (@specs) = @_;
    my $in = $t->prefix . '/tmp/sdk-batch.jsonl';
    my $lines = '';
    for my $sp (@specs) {
        my ($method, $pq, %o) = @$sp;
        $lines .= json_encode({ method => $method, url => "$base$pq", ak => $o{ak} // $AK,
                                sk => $o{sk} // $SK, headers => $o{headers} || [],
                                map { defined $o{$_} ? ($_ => $o{$_}) : () }
                                qw(body raw_body content_type project_id date derived send) }) . "\n";
    }
    spew($in, $lines);
    my $out = `node '$signjs' --batch < '$in' 2>&1`;
    die "sign.js --batch failed (rc $?): $out" if $?;
    my @res = map { json_decode($_) } grep { /^\{/ } split /\n/, $out;
    die "sign.js --batch: " . scalar(@res) . " answers for " . scalar(@specs) . " requests: $out"
        unless @res == @specs;
    return @res;
}

# send($req, %change): sends the SDK's request with Perl, with changes:
# path, headers (name => value, undef drops), body
sub send_req {
    my ($req, %c) = @_;
    my %h = %{ $req->{headers} };
    for my $n (keys %{ $c{headers} || {} }) {
        my ($k) = grep { lc $_ eq lc $n } keys %h;
        $k //= $n;
        if (defined $c{headers}{$n}) { $h{$k} = $c{headers}{$n} } else { delete $h{$k} }
    }
    my $body = exists $c{body} ? $c{body} : $req->{body};
    return $t->request($c{method} // $req->{method}, $c{path} // $req->{path}, [ %h ], $body);
}

sub signed_list { my ($req) = @_; ($req->{headers}{Authorization} =~ /SignedHeaders=([^,]+)/)[0] // '' }

# ---------------------------------------------------------------- sign all

my $qpage = "$path?limit=2&offset=1";
my $qesc = "$path?status=failed&limit=1&zeta=%7E%20a%2Bb*&alpha=x%2Fy";
my $qbase = "$path?limit=3&offset=0";
my %S = (
    plain    => ['GET', $path],
    page     => ['GET', $qpage],
    esc      => ['GET', $qesc],
    full     => ['GET', "$path?limit=3", project_id => $pid, content_type => 'application/json',
                 headers => ['X-Request-Id: 2f1c-req-1', 'X-Client-Name: interop test', 'Accept: application/json']],
    body     => ['GET', "$path?limit=4", body => '{"name":"scan","ids":[1,2,3],"note":"caf\u00e9"}',
                 headers => ['X-Request-Id: with-body']],
    unsigned => ['GET', $path, content_type => 'text/plain', raw_body => 'plain text'],
    strbody  => ['GET', $path, raw_body => 'hello'],
    base     => ['GET', $qbase, project_id => $pid, body => '{"k":"value"}', headers => ['X-Request-Id: abc123']],
    old      => ['GET', $path, date => sdk_date(int(time) - 16 * 60)],
    min14    => ['GET', $path, date => sdk_date(int(time) - 14 * 60)],
    send_ok  => ['GET', "$path?limit=2", project_id => $pid, send => 1],
    send_bad => ['GET', "$path?limit=2", sk => 'wrong-secret', send => 1],
);
my @names = sort keys %S;
my %R;
@R{@names} = sdk_batch(@S{@names});

# ---------------------------------------------------------------- accepted

my $plain = $R{plain};
is($plain->{method}, 'GET', 'the SDK signs a GET');
like($plain->{headers}{Authorization} // '',
     qr/^SDK-HMAC-SHA256 Access=\Q$AK\E, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/,
     'SDK Authorization header shape');
like($plain->{headers}{'X-Sdk-Date'} // '', qr/^\d{8}T\d{6}Z$/, 'the SDK sets X-Sdk-Date');
is_json_ok(send_req($plain), $LIST, 'SDK-signed GET (host;x-sdk-date) -> 200');

is_json_ok(send_req($R{page}), expected_list($iid, \@tasks, limit => 2, offset => 1),
           'SDK-signed GET with limit=2&offset=1 -> 200, that page');
my $r = $R{esc};
note("the SDK sends $r->{path}");
is_json_ok(send_req($r), expected_list($iid, \@tasks, limit => 1, status => 'failed'),
           'SDK-signed GET with unknown parameters needing escapes (~ space + * /) -> 200');

my $full = $R{full};
is(signed_list($full), 'accept;content-type;host;x-client-name;x-project-id;x-request-id;x-sdk-date',
   'the SDK signs every header it sends (accept, content-type, host, custom, x-project-id, x-sdk-date)');
is($full->{headers}{'X-Project-Id'}, $pid, 'BasicCredentials.withProjectId adds X-Project-Id');
is_json_ok(send_req($full), expected_list($iid, \@tasks, limit => 3),
           'SDK-signed GET with seven signed headers -> 200');

my $bodyreq = $R{body};
ok(defined $bodyreq->{body} && length $bodyreq->{body}, 'the SDK request carries a JSON body');
is_json_ok(send_req($bodyreq), expected_list($iid, \@tasks, limit => 4),
           'SDK-signed GET with a JSON body (hashed by both) -> 200');

# a non-JSON content type: the SDK signs X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD
my $unsigned = $R{unsigned};
is($unsigned->{headers}{'X-Sdk-Content-Sha256'}, 'UNSIGNED-PAYLOAD',
   'with Content-Type text/plain the SDK adds X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD');
is_json_ok(send_req($unsigned), $LIST, 'SDK request with UNSIGNED-PAYLOAD -> 200');

# a string body with the JSON content type: the SDK hashes
# JSON.stringify(data), i.e. the string in quotes, while its HTTP client
# sends the bare string; the gateway hashes what it receives
my $strbody = $R{strbody};
is_json_error(send_req($strbody), 401, 'APIGW.0301', 'Incorrect IAM authentication information: verify aksk signature fail',
              'SDK quirk: a string body is signed as JSON.stringify(body), sent bare -> 401');
is_json_ok(send_req($strbody, body => '"hello"'), $LIST, '... and accepted when the quoted string is sent');

# the SDK's own HTTP client (axios) sending to the gateway
my $sent = $R{send_ok};
is($sent->{status}, 200, 'HcClient.sendRequest through axios -> 200') or diag explain $sent;
is_deeply($sent->{body}, expected_list($iid, \@tasks, limit => 2), '... with the list');
$sent = $R{send_bad};
is($sent->{status}, 401, 'HcClient.sendRequest with a wrong SK -> 401') or diag explain $sent;
is($sent->{error_code}, 'APIGW.0301', '... APIGW.0301 as the SDK reports it') or diag explain $sent;

# ---------------------------------------------------------------- one byte changed

{
    my $req = $R{base};
    is_json_ok(send_req($req), expected_list($iid, \@tasks, limit => 3), 'base SDK request -> 200');

    (my $iidx = $iid) =~ s/(.)$/$1 eq 'a' ? 'b' : 'a'/e;
    my $d = $req->{headers}{'X-Sdk-Date'};
    my ($Y, $M, $D, $hh, $mm, $ss) = $d =~ /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/;
    my $epoch = POSIX::mktime($ss, $mm, $hh, $D, $M - 1, $Y - 1900) - POSIX::mktime(0, 0, 0, 1, 0, 70);
    my $auth = $req->{headers}{Authorization};
    (my $authx = $auth) =~ s/([0-9a-f])$/$1 eq '0' ? '1' : '0'/e;
    (my $bodyx = $req->{body}) =~ s/value/valuf/;

    my @cases = (
        ['the path (instance id)', path => "/v2/$pid/instances/$iidx/hotkey-tasks?limit=3&offset=0"],
        ['the query (limit=3 -> 4)', path => "$path?limit=4&offset=0"],
        ['the query (a parameter added)', path => "$path?limit=3&offset=0&x=1"],
        ['the signed header X-Request-Id', headers => { 'X-Request-Id' => 'abc124' }],
        ['the signed host', headers => { host => '127.0.0.2:' . $t->nginx_port }],
        ['the body', body => $bodyx],
        ['the body removed', body => undef],
        ['the date (one second later)', headers => { 'X-Sdk-Date' => sdk_date($epoch + 1) }],
        ['the signature', headers => { Authorization => $authx }],
    );
    for my $c (@cases) {
        my ($what, %chg) = @$c;
        is_json_error(send_req($req, %chg), 401, 'APIGW.0301', $SIGFAIL,
                      "SDK request with one change in $what -> 401 APIGW.0301");
    }
    is_json_error(send_req($req, headers => { 'X-Sdk-Date' => sdk_date($epoch - 3600) }), 401, 'APIGW.0301',
                  'Incorrect IAM authentication information: request expired',
                  'SDK request with the date an hour back -> 401 request expired');
    is_json_error(send_req($req, headers => { 'X-Request-Id' => undef }), 401, 'APIGW.0301',
                  'Incorrect IAM authentication information: signed header not in the request',
                  'SDK request with a signed header removed -> 401');

    # the same changes on the minimal SDK request (host;x-sdk-date)
    is_json_error(send_req($plain, path => "$path?limit=1"), 401, 'APIGW.0301', $SIGFAIL,
                  'minimal SDK request, a query added -> 401');
    is_json_error(send_req($plain, body => 'x'), 401, 'APIGW.0301', $SIGFAIL,
                  'minimal SDK request, a body added -> 401');
}

# ---------------------------------------------------------------- DerivedAKSKSigner (V11)

{
    my %V = (
        plain   => ['GET', $path, ak => $AKV, sk => $SKV, derived => 'cn-north-4/dcs'],
        base    => ['GET', $qbase, ak => $AKV, sk => $SKV, derived => 'cn-north-4/dcs', project_id => $pid,
                    body => '{"k":"value"}', headers => ['X-Request-Id: v11-abc']],
        region  => ['GET', $path, ak => $AKV, sk => $SKV, derived => 'cn-south-1/dcs'],
        service => ['GET', $path, ak => $AKV, sk => $SKV, derived => 'cn-north-4/ecs'],
        wrongsk => ['GET', $path, ak => $AKV, sk => "${SKV}x", derived => 'cn-north-4/dcs'],
        hmac    => ['GET', $path, ak => $AKV, sk => $SKV],
        send    => ['GET', "$path?limit=2", ak => $AKV, sk => $SKV, derived => 'cn-north-4/dcs', send => 1],
    );
    my @vn = sort keys %V;
    my %VR;
    @VR{@vn} = sdk_batch(@V{@vn});

    my $p = $VR{plain};
    like($p->{headers}{Authorization} // '',
         qr{^V11-HMAC-SHA256 Credential=\Q$AKV\E/\d{8}/cn-north-4/dcs, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$},
         'DerivedAKSKSigner: V11-HMAC-SHA256 Authorization header shape');
    is_json_ok(send_req($p), $LIST, 'V11 request from the SDK\'s DerivedAKSKSigner -> 200');
    is($VR{send}{status}, 200, 'V11 through the SDK\'s own HTTP client -> 200') or diag explain $VR{send};

    my $req = $VR{base};
    is_json_ok(send_req($req), expected_list($iid, \@tasks, limit => 3), 'V11 request with body and headers -> 200');
    my $d = $req->{headers}{'X-Sdk-Date'};
    my ($Y, $M, $D, $hh, $mm, $ss) = $d =~ /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/;
    my $epoch = POSIX::mktime($ss, $mm, $hh, $D, $M - 1, $Y - 1900) - POSIX::mktime(0, 0, 0, 1, 0, 70);
    my $auth = $req->{headers}{Authorization};
    (my $authx = $auth) =~ s/([0-9a-f])$/$1 eq '0' ? '1' : '0'/e;
    (my $authd = $auth) =~ s{/(\d{8})/}{'/' . sdk_date($epoch + 86400) =~ s/T.*//r . '/'}e;
    (my $bodyx = $req->{body}) =~ s/value/valuf/;
    for my $c (['the query', path => "$path?limit=4&offset=0"],
               ['the signed header X-Request-Id', headers => { 'X-Request-Id' => 'v11-abd' }],
               ['the body', body => $bodyx],
               ['the date (one second later)', headers => { 'X-Sdk-Date' => sdk_date($epoch + 1) }],
               ['the signature', headers => { Authorization => $authx }])
    {
        my ($what, %chg) = @$c;
        is_json_error(send_req($req, %chg), 401, 'APIGW.0301', $SIGFAIL,
                      "V11 request with one change in $what -> 401 APIGW.0301");
    }
    my $SCOPE = 'Incorrect IAM authentication information: invalid credential scope';
    is_json_error(send_req($req, headers => { Authorization => $authd }), 401, 'APIGW.0301', $SCOPE,
                  'V11 with the scope date a day after X-Sdk-Date -> 401 invalid credential scope');
    is_json_error(send_req($VR{region}), 401, 'APIGW.0301', $SCOPE,
                  'V11 signed for region cn-south-1, the key allows cn-north-4 -> 401 invalid credential scope');
    is_json_error(send_req($VR{service}), 401, 'APIGW.0301', $SCOPE,
                  'V11 signed for service ecs, the key allows dcs -> 401 invalid credential scope');
    is_json_error(send_req($VR{wrongsk}), 401, 'APIGW.0301', $SIGFAIL, 'V11 with a wrong SK -> 401');
    is_json_error(send_req($VR{hmac}), 401, 'APIGW.0301',
                  'Incorrect IAM authentication information: signing algorithm not allowed for this access key',
                  'SDK-HMAC-SHA256 with a key limited to schemes=V11-HMAC-SHA256 -> 401');
}

# ---------------------------------------------------------------- the SDK's date, other clock

{
    my $old = $R{old};
    is_json_error(send_req($old), 401, 'APIGW.0301', 'Incorrect IAM authentication information: request expired',
                  'SDK request dated 16 min ago -> 401 request expired');
    my $ok = $R{min14};
    is_json_ok(send_req($ok), $LIST, 'SDK request dated 14 min ago -> 200');
}

$t->done;
