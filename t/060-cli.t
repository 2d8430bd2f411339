#!/usr/bin/perl
# hotkeyctl: help, JWT minting (signatures checked with openssl and
# Digest::SHA), JWKS output, AK/SK signing against api.md's vectors.
use strict;
use warnings;
use FindBin;
use Test::More;
use File::Temp qw(tempdir);
use MIME::Base64 qw(decode_base64 encode_base64);
use Digest::SHA qw(sha256 sha256_hex hmac_sha256 hmac_sha256_hex);
use JSON::PP;

my $top = "$FindBin::Bin/..";
my $ctl = $ENV{HOTKEY_BUILD} ? "$ENV{HOTKEY_BUILD}/hotkeyctl"
                             : "$top/build/hotkeyctl";
plan skip_all => "$ctl not built (make cli)" unless -x $ctl;
plan skip_all => 'openssl not found' if system('openssl version >/dev/null 2>&1');

my $dir = tempdir(CLEANUP => 1);
my $json = JSON::PP->new->canonical;
my $NOW = 1700000000;
my $PROJECT = '0123456789abcdef0123456789abcdef';

sub sh {
    my $cmd = shift;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

sub ctl { sh(join ' ', $ctl, map { quote($_) } @_) }

sub quote { my $s = shift; $s =~ s/'/'\\''/g; "'$s'" }

sub b64url_dec { my $s = shift; $s =~ tr{-_}{+/}; $s .= '=' x (-length($s) % 4); decode_base64($s) }

sub b64url_enc { my $s = encode_base64(shift, ''); $s =~ tr{+/}{-_}; $s =~ s/=+$//; $s }

sub spew { my ($f, $d) = @_; open my $fh, '>:raw', $f or die "$f: $!"; print $fh $d; close $fh }

# ---- help

my ($rc, $out) = ctl('--help');
is($rc, 0, '--help exits 0');
like($out, qr/^\s+$_\s/m, "--help lists $_") for qw(token sign jwks help);
for my $cmd (qw(token sign jwks)) {
    ($rc, $out) = ctl($cmd, '--help');
    is($rc, 0, "$cmd --help exits 0");
    like($out, qr/^usage: hotkeyctl $cmd /, "$cmd --help shows usage");
    my ($rc2, $out2) = ctl('help', $cmd);
    is($out2, $out, "help $cmd is $cmd --help");
}
like((ctl('token', '--help'))[1], qr/--$_\b/, "token --help documents --$_")
    for qw(key alg project actions ttl kid sub nbf-offset iat);
like((ctl('sign', '--help'))[1], qr/--$_\b/, "sign --help documents --$_")
    for qw(ak sk method url header data date curl);
($rc, $out) = ctl('frobnicate');
is($rc, 2, 'unknown command exits 2');
like($out, qr/unknown command "frobnicate"/, 'and says so');
($rc) = sh($ctl);
is($rc, 2, 'no command exits 2');

# ---- keys

my %key = (
    RS256 => ["genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048"],
    ES256 => ["genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256"],
    EdDSA => ["genpkey -algorithm ED25519"],
);
for my $alg (sort keys %key) {
    my ($rc1) = sh("openssl $key{$alg}[0] -out $dir/$alg.pem");
    my ($rc2) = sh("openssl pkey -in $dir/$alg.pem -pubout -out $dir/$alg.pub");
    ok($rc1 == 0 && $rc2 == 0, "$alg key pair generated");
}
my $secret = join '', map { chr(32 + int rand 95) } 1 .. 48;
spew("$dir/hs.key", "$secret\n");

# ---- tokens

sub der_int {
    my $v = shift;
    $v =~ s/^\x00+//;
    $v = "\x00$v" if $v eq '' || ord($v) & 0x80;
    return "\x02" . chr(length $v) . $v;
}

sub verify_sig {
    my ($alg, $input, $sig) = @_;
    return hmac_sha256($input, $secret) eq $sig if $alg eq 'HS256';
    spew("$dir/in", $input);
    if ($alg eq 'ES256') {
        return 0 unless length $sig == 64;
        my $seq = der_int(substr $sig, 0, 32) . der_int(substr $sig, 32);
        $sig = "\x30" . chr(length $seq) . $seq;
    }
    spew("$dir/sig", $sig);
    my ($rc) = $alg eq 'EdDSA'
        ? sh("openssl pkeyutl -verify -pubin -inkey $dir/$alg.pub -rawin -in $dir/in -sigfile $dir/sig")
        : sh("openssl dgst -sha256 -verify $dir/$alg.pub -signature $dir/sig $dir/in");
    return $rc == 0;
}

for my $alg (qw(RS256 ES256 EdDSA HS256)) {
    my $kf = $alg eq 'HS256' ? "$dir/hs.key" : "$dir/$alg.pem";
    ($rc, $out) = ctl('token', '--key', $kf, '--alg', $alg, '--project', $PROJECT,
        '--actions', 'dcs:instance:listHotKey,dcs:instance:analyze',
        '--ttl', 600, '--kid', "k-$alg", '--sub', 'alice', '--now', $NOW,
        '--nbf-offset', -30, '--rate', '20r/s', '--burst', 5);
    is($rc, 0, "$alg token minted") or diag $out;
    chomp $out;
    my @p = split /\./, $out, -1;
    is(scalar @p, 3, "$alg token has three parts");
    unlike($out, qr/[=+\/]/, "$alg token is unpadded base64url");
    my $h = eval { decode_json(b64url_dec($p[0])) } || {};
    my $c = eval { decode_json(b64url_dec($p[1])) } || {};
    is_deeply($h, { alg => $alg, typ => 'JWT', kid => "k-$alg" }, "$alg header");
    is_deeply($c, {
        project_id => $PROJECT, sub => 'alice', iat => $NOW, nbf => $NOW - 30,
        exp => $NOW + 600, rate => '20r/s', burst => 5,
        actions => ['dcs:instance:listHotKey', 'dcs:instance:analyze'],
    }, "$alg claims");
    my $sig = b64url_dec($p[2]);
    ok(verify_sig($alg, "$p[0].$p[1]", $sig), "$alg signature verifies");
    substr($sig, 5, 1) ^= "\x01";
    ok(!verify_sig($alg, "$p[0].$p[1]", $sig), "$alg altered signature fails");
}

($rc, $out) = ctl('token', '--key', "$dir/hs.key", '--project', 'p', '--now', $NOW, '--iat', 'none');
my $c = decode_json(b64url_dec((split /\./, $out)[1]));
ok(!exists $c->{iat} && $c->{exp} == $NOW + 3600, '--iat none, default ttl 3600');
is_deeply($c->{actions}, ['dcs:instance:listHotKey'], 'default actions');
($rc, $out) = ctl('token', '--key', "$dir/ES256.pem", '--alg', 'RS256', '--project', 'p');
isnt($rc, 0, '--alg that does not fit the key refused');
like($out, qr/does not fit the key/, 'and says so');
($rc, $out) = ctl('token', '--key', "$dir/ES256.pem");
is($rc, 2, 'missing --project refused');
($rc, $out) = ctl('token', '--key', "$dir/ES256.pem", '--project', 'p', '--actions', 'dcs:instance:nope');
is($rc, 2, 'unknown action refused');
like($out, qr/unknown action "dcs:instance:nope"/, 'and named');
($rc, $out) = ctl('token', '--key', "$dir/ES256.pub", '--project', 'p');
isnt($rc, 0, 'a public key cannot sign');
spew("$dir/short.key", "short\n");
($rc, $out) = ctl('token', '--key', "$dir/short.key", '--project', 'p');
isnt($rc, 0, 'a short HS256 secret is refused');

# ---- jwks

sub thumbprint {
    my $k = shift;
    my @m = $k->{kty} eq 'RSA' ? qw(e kty n) : $k->{kty} eq 'EC' ? qw(crv kty x y) : qw(crv kty x);
    my $s = '{' . join(',', map { "\"$_\":\"$k->{$_}\"" } @m) . '}';
    return b64url_enc(sha256($s));
}

($rc, $out) = ctl('jwks', '--key', "$dir/RS256.pub", '--key', "$dir/ES256.pem", '--key', "$dir/EdDSA.pub");
is($rc, 0, 'jwks of three keys');
my $set = eval { decode_json($out) } || {};
is(scalar @{ $set->{keys} || [] }, 3, 'three keys');
my @k = @{ $set->{keys} || [] };
is_deeply([map { "$_->{kty}/" . ($_->{crv} // '') . "/$_->{alg}" } @k],
          ['RSA//RS256', 'EC/P-256/ES256', 'OKP/Ed25519/EdDSA'], 'kty, crv, alg');
is($_->{kid}, thumbprint($_), "$_->{kty} kid is the RFC 7638 thumbprint") for @k;
ok(!grep({ exists $_->{d} } @k), 'no private member printed');
($rc, $out) = ctl('jwks', '--key', "$dir/EdDSA.pub", '--kid', 'mine');
is(decode_json($out)->{keys}[0]{kid}, 'mine', '--kid');
($rc, $out) = ctl('jwks', '--key', "$dir/hs.key");
isnt($rc, 0, 'jwks of a non-PEM file refused');

# ---- sign: api.md section 5's vectors

my %v = (
    get => [qw(--url http://127.0.0.1:8080/path?limit=1)],
    post => ['--method', 'POST', '--url', 'http://127.0.0.1:8080/path?key=value',
             '--data', qq({"Name":"test","Id":1}\n)],
);
my %want = (
    get => '5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624',
    post => 'cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59',
);
for my $n (sort keys %v) {
    ($rc, $out) = ctl('sign', '--ak', 'AccessKey', '--sk', 'SecretKey', '--date', '20060102T150405Z',
        '--signed-headers', 'x-sdk-date', @{ $v{$n} });
    is($rc, 0, "sign $n vector");
    is($out, "X-Sdk-Date: 20060102T150405Z\n"
        . "Authorization: SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=$want{$n}\n"
        . "Host: 127.0.0.1:8080\n", "api.md $n vector signature");
}

spew("$dir/body", qq({"Name":"test","Id":1}\n));
spew("$dir/sk", "SecretKey\n");
($rc, $out) = ctl('sign', '--ak', 'AccessKey', '--sk-file', "$dir/sk", '--date', '20060102T150405Z',
    '--signed-headers', 'x-sdk-date', '--method', 'POST', '--url',
    'http://127.0.0.1:8080/path?key=value', '--data', "\@$dir/body");
like($out, qr/Signature=$want{post}$/m, '--data @file and --sk-file');

# the Node.js SDK's signature of the same request (signs host and x-sdk-date)
($rc, $out) = ctl('sign', '--ak', 'AccessKey', '--sk', 'SecretKey', '--date', '20191115T033655Z',
    '--url', 'http://127.0.0.1:8080/v2/p1/instances/i1/hotkey-tasks?limit=10&offset=0');
like($out, qr/SignedHeaders=host;x-sdk-date, Signature=47abddb4d1eed175ba6b7f1910a06833906acfaed0bcfffe2e1af6f04685be3e$/m,
     'same signature as the Node.js SDK');

# an independent computation in Perl, with extra headers, all signed
($rc, $out) = ctl('sign', '--ak', 'AK', '--sk', 'SK', '--date', '20240301T120000Z',
    '--url', 'http://h:1/v2/x/y?b=2&a=%7e1', '-H', 'X-Project-Id: x', '-H', 'Content-Type: application/json');
my $canon = join "\n", 'GET', '/v2/x/y/', 'a=~1&b=2',
    "content-type:application/json\nhost:h:1\nx-project-id:x\nx-sdk-date:20240301T120000Z\n",
    'content-type;host;x-project-id;x-sdk-date', sha256_hex('');
my $sts = "SDK-HMAC-SHA256\n20240301T120000Z\n" . sha256_hex($canon);
like($out, qr/^Authorization: SDK-HMAC-SHA256 Access=AK, SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature=${\ hmac_sha256_hex($sts, 'SK')}$/m,
     'signature recomputed in Perl');

($rc, $out) = ctl('sign', '--ak', 'AK', '--sk', 'SK', '--url', 'http://h/p');
like($out, qr/^X-Sdk-Date: \d{8}T\d{6}Z$/m, 'X-Sdk-Date defaults to now');
($rc, $out) = ctl('sign', '--ak', 'AK', '--sk', 'SK', '--url', 'ftp://h/p');
is($rc, 2, 'non-http URL refused');
($rc, $out) = ctl('sign', '--ak', 'AK', '--sk', 'SK', '--url', 'http://h/p', '--date', '2024-03-01');
is($rc, 2, 'bad --date refused');
($rc, $out) = ctl('sign', '--ak', 'AK', '--url', 'http://h/p');
is($rc, 2, 'no secret key refused');

# --curl runs curl with the headers: a fake curl records its arguments
mkdir "$dir/bin";
spew("$dir/bin/curl", "#!/bin/sh\nfor a in \"\$@\"; do printf '%s\\n' \"\$a\"; done\n");
chmod 0755, "$dir/bin/curl";
($rc, $out) = sh("PATH=$dir/bin:\$PATH " . join ' ', map { quote($_) } $ctl, 'sign', '--ak', 'AccessKey',
    '--sk', 'SecretKey', '--date', '20191115T033655Z', '--curl',
    '--url', 'http://127.0.0.1:8080/v2/p1/instances/i1/hotkey-tasks?limit=10&offset=0', '--', '-i');
is($rc, 0, '--curl runs curl');
my @args = split /\n/, $out;
is($args[-1], 'http://127.0.0.1:8080/v2/p1/instances/i1/hotkey-tasks?limit=10&offset=0', 'URL last');
is($args[-2], '-i', 'arguments after -- passed on');
ok((grep { $_ eq 'X-Sdk-Date: 20191115T033655Z' } @args), 'X-Sdk-Date header');
ok((grep { /^Authorization: .*Signature=47abddb4/ } @args), 'Authorization header');
ok((grep { $_ eq 'Host: 127.0.0.1:8080' } @args), 'Host header');

done_testing();
