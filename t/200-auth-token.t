#!/usr/bin/perl
# X-Auth-Token JWTs against a real nginx + module + redis: keys made here
# with openssl (ES256 P-256, RS256 2048, Ed25519, an HS256 secret file, a
# JWKS with several kids), tokens minted with hotkeyctl or crafted by hand
# (alg none, tampering, bad base64url/JSON, size, kid and algorithm
# confusions), the time claims and their leeway (edges at whole seconds),
# project and action checks, the order of checks, nginx -t on the key
# directives, reload with a new key file, $hotkey_principal, and no secret
# in the error log.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Auth qw(:all);

plan skip_all => 'openssl not found' if system('openssl version >/dev/null 2>&1');

my $t = Hotkey::Test->new;
$t->start_redis;

my $pid = hex32();
my $iid = uuid();
my $other = hex32();
$t->add_instance($iid, project => $pid);
my @tasks = $t->add_tasks($iid, map { { status => $_ } } qw(success running waiting failed));
my $LIST = expected_list($iid, \@tasks);
my $path = $t->list_path($pid, $iid);

my $NO_TOKEN = 'No token in the request.';
my $INVALID  = 'Invalid token.';
my $EXPIRED  = 'Token expired.';
my $PROJECT  = 'Project ID does not match the token.';
my $FORBID   = 'Policy does not allow dcs:instance:listHotKey to be performed.';

# ---------------------------------------------------------------- keys

my $K = $t->prefix . '/keys';
mkdir $K;
my %gen = (
    rs  => [qw(-algorithm RSA -pkeyopt rsa_keygen_bits:2048)],
    es  => [qw(-algorithm EC -pkeyopt ec_paramgen_curve:P-256)],
    es2 => [qw(-algorithm EC -pkeyopt ec_paramgen_curve:P-256)],
    ed  => [qw(-algorithm ED25519)],
    rla => [qw(-algorithm EC -pkeyopt ec_paramgen_curve:P-256)],
    rlb => [qw(-algorithm ED25519)],
);
for my $n (sort keys %gen) {
    openssl('genpkey', @{ $gen{$n} }, '-out', "$K/$n.pem");
    openssl('pkey', '-in', "$K/$n.pem", '-pubout', '-out', "$K/$n.pub");
}
my $secret = join '', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[rand 62] } 1 .. 48;
spew("$K/hs.key", "$secret\n", 0600);
my $secret2 = join '', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[rand 62] } 1 .. 40;
spew("$K/hs2.key", $secret2, 0600);

# a JWKS: RS, ES, Ed with their thumbprint kids, a second EC key with the
# kid "es-2", an oct (HS256) key with the kid "hs-1"
my ($rc, $out) = ctl($t, 'jwks', '--key', "$K/rs.pub", '--key', "$K/es.pub", '--key', "$K/ed.pub");
die "jwks: $out" if $rc;
my $jwks = json_decode($out);
my %kid = map { (lc($_->{kty}) => $_->{kid}) } @{ $jwks->{keys} };    # rsa, ec, okp
($rc, $out) = ctl($t, 'jwks', '--key', "$K/es2.pub", '--kid', 'es-2');
die "jwks: $out" if $rc;
push @{ $jwks->{keys} }, @{ json_decode($out)->{keys} };
push @{ $jwks->{keys} }, { kty => 'oct', kid => 'hs-1', alg => 'HS256', k => b64url($secret2) };
spew("$K/jwks.json", json_encode($jwks));
is(scalar @{ $jwks->{keys} }, 5, 'JWKS with five keys (RSA, EC, OKP, EC "es-2", oct "hs-1")');

# the key file replaced before a reload
system('cp', "$K/rla.pub", "$K/reload.pub") == 0 or die;

# ---------------------------------------------------------------- servers

my %port = map { ($_ => $t->port($_)) } qw(es rs ed hs rl);
my $plog = $t->prefix . '/logs/principal.log';
my $http = "    log_format principal '\$hotkey_principal \$status \$request_uri';\n"
    . auth_server($t, keys => "$K/jwks.json",
                  server_extra => "        access_log $plog principal;\n")
    . auth_server($t, port => $port{es}, keys => "$K/es.pub", leeway => '0')
    . auth_server($t, port => $port{rs}, keys => "$K/rs.pub")
    . auth_server($t, port => $port{ed}, keys => "$K/ed.pub")
    . auth_server($t, port => $port{hs}, keys => "$K/hs.key",
                  server_extra => "        large_client_header_buffers 4 32k;\n")
    . auth_server($t, port => $port{rl}, keys => "$K/reload.pub");
$t->wait_ports(values %port);
$t->start_nginx($http);

my @sigs;    # signatures of every token sent, looked for in the log later

sub send_token {
    my ($tok, %o) = @_;
    push @sigs, (split /\./, $tok, -1)[2] // '' if defined $tok;
    my @h = defined $tok ? ('X-Auth-Token' => $tok) : ();
    push @h, @{ $o{headers} || [] };
    my $p = $o{path} // $path;
    return $t->request($o{method} || 'GET', $p, \@h, $o{body},
                       port => $o{port} || $t->nginx_port);
}

my %mint = (project => $pid);

# ---------------------------------------------------------------- valid

is_json_ok(send_token(token($t, %mint, key => "$K/es.pem"), port => $port{es}),
           $LIST, 'ES256 token, single PEM key -> 200 with the list');
is_json_ok(send_token(token($t, %mint, key => "$K/rs.pem"), port => $port{rs}),
           $LIST, 'RS256 token, single PEM key -> 200');
is_json_ok(send_token(token($t, %mint, key => "$K/ed.pem"), port => $port{ed}),
           $LIST, 'EdDSA (Ed25519) token, single PEM key -> 200');
is_json_ok(send_token(token($t, %mint, key => "$K/hs.key"), port => $port{hs}),
           $LIST, 'HS256 token, raw secret file -> 200');
is_json_ok(send_token(token($t, %mint, key => "$K/es.pem", kid => $kid{ec}), port => $port{es}),
           $LIST, 'ES256 token with the key\'s thumbprint kid, single PEM key -> 200');
{
    my $r = send_token(token($t, %mint, key => "$K/hs.key"), port => $port{hs}, method => 'HEAD');
    is($r->{status}, 200, 'HEAD with a valid token -> 200');
}

# JWKS: each kid picks its key
for my $c (['rs', $kid{rsa}], ['es', $kid{ec}], ['ed', $kid{okp}], ['es2', 'es-2']) {
    my ($k, $kid) = @$c;
    is_json_ok(send_token(token($t, %mint, key => "$K/$k.pem", kid => $kid)),
               $LIST, "JWKS: $k token with kid $kid -> 200");
}
is_json_ok(send_token(token($t, %mint, key => "$K/hs2.key", kid => 'hs-1')),
           $LIST, 'JWKS: HS256 token with kid hs-1 (oct key) -> 200');

is_json_error(send_token(token($t, %mint, key => "$K/es.pem")), 401, 'DCS.1001', $INVALID,
              'JWKS of several keys: token without kid -> 401 DCS.1001');
is_json_error(send_token(token($t, %mint, key => "$K/es.pem", kid => 'nope')), 401, 'DCS.1001',
              $INVALID, 'JWKS: unknown kid -> 401 DCS.1001');
is_json_error(send_token(token($t, %mint, key => "$K/es.pem", kid => 'es-2')), 401, 'DCS.1001',
              $INVALID, 'JWKS: ES256 token with the kid of another EC key -> 401 DCS.1001');
is_json_error(send_token(token($t, %mint, key => "$K/hs.key", kid => 'hs-1')), 401, 'DCS.1001',
              $INVALID, 'JWKS: HS256 token with kid hs-1 but another secret -> 401 DCS.1001');

# wrong key for the server
is_json_error(send_token(token($t, %mint, key => "$K/es2.pem"), port => $port{es}), 401, 'DCS.1001',
              $INVALID, 'ES256 token signed by another P-256 key -> 401 DCS.1001');
is_json_error(send_token(token($t, %mint, key => "$K/hs2.key"), port => $port{hs}), 401, 'DCS.1001',
              $INVALID, 'HS256 token signed with another secret -> 401 DCS.1001');

# ---------------------------------------------------------------- crafted

my $now = time;
my %claims = (project_id => $pid, actions => ['dcs:instance:listHotKey'],
              iat => int($now), exp => int($now) + 600);
my %hs_hdr = (alg => 'HS256', typ => 'JWT');
my $hs = sign_hs256($secret);

sub hs_ok {
    my ($tok, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return is_json_ok(send_token($tok, port => $port{hs}), $LIST, $name);
}

sub hs_bad {
    my ($tok, $name, $code, $msg) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return is_json_error(send_token($tok, port => $port{hs}), 401, $code || 'DCS.1001',
                         $msg || $INVALID, $name);
}

hs_ok(craft_jwt(\%hs_hdr, \%claims, sign => $hs), 'hand-made HS256 token (Perl HMAC) -> 200');
hs_ok(craft_jwt({ alg => 'HS256' }, { project_id => $pid, exp => int($now) + 60,
                                      actions => ['dcs:instance:listHotKey'] }, sign => $hs),
      'minimal token: alg only, project_id, exp, actions -> 200');

for my $alg ('none', 'None', 'NONE') {
    hs_bad(craft_jwt({ alg => $alg, typ => 'JWT' }, \%claims), "alg $alg, empty signature -> 401 DCS.1001");
}
hs_bad(craft_jwt({ alg => 'none' }, \%claims, sign => $hs), 'alg none with an HMAC signature -> 401 DCS.1001');
hs_bad(craft_jwt({ alg => 'HS512' }, \%claims, sign => $hs), 'alg HS512 (signed HS256) -> 401 DCS.1001');
hs_bad(craft_jwt({ typ => 'JWT' }, \%claims, sign => $hs), 'no alg in the header -> 401 DCS.1001');

{
    my $good = craft_jwt(\%hs_hdr, \%claims, sign => $hs);
    my ($h64, $c64, $s64) = split /\./, $good;
    my $evil = b64url(json_encode({ %claims, sub => 'mallory' }));
    hs_bad("$h64.$evil.$s64", 'tampered payload (sub added), old signature -> 401 DCS.1001');
    $evil = b64url(json_encode({ %claims, project_id => $other }));
    is_json_error(send_token("$h64.$evil.$s64", port => $port{hs},
                             path => $t->list_path($other, $iid)),
                  401, 'DCS.1001', $INVALID, 'tampered payload (project_id changed) -> 401 DCS.1001');
    $evil = b64url(json_encode({ %claims, exp => $claims{exp} + 86400 * 365 }));
    hs_bad("$h64.$evil.$s64", 'tampered payload (exp pushed) -> 401 DCS.1001');
    my $s = b64url_dec($s64);
    substr($s, 7, 1) ^= "\x01";
    hs_bad("$h64.$c64." . b64url($s), 'one bit of the signature flipped -> 401 DCS.1001');
    hs_bad("$h64.$c64.", 'signature removed -> 401 DCS.1001');
    hs_bad("$h64.$c64", 'two parts only -> 401 DCS.1001');
    hs_bad("$h64.$c64.$s64.$s64", 'four parts -> 401 DCS.1001');
    hs_bad("$h64.$c64.${s64}AA", 'signature with two more bytes -> 401 DCS.1001');

    # bad base64url, each signed over the bad text
    my $in = "$h64.$c64!";
    hs_bad("$in." . b64url($hs->($in)), 'payload with a "!" (not base64url), signed -> 401 DCS.1001');
    my %pc = %claims;
    my $std;
    for my $i (1 .. 200) {    # claims whose standard base64 has + or /
        $pc{pad} = '?' x $i . '>' x $i;
        $std = MIME::Base64::encode_base64(json_encode(\%pc), '');
        last if $std =~ m{[+/]};
    }
    $std =~ s/=+$//;
    $in = "$h64.$std";
    hs_bad("$in." . b64url($hs->($in)), 'payload in standard base64 (+ or /), signed -> 401 DCS.1001');
    $in = "$h64.$c64";
    my $sig64 = MIME::Base64::encode_base64($hs->($in), '');    # padded, standard alphabet
    hs_bad("$in.$sig64", 'signature in padded standard base64 -> 401 DCS.1001')
        if $sig64 =~ m{[+/=]};
    $in = "$h64" . '=' x (-length($h64) % 4 || 2) . ".$c64";
    hs_bad("$in." . b64url($hs->($in)), 'padded header ("=" in base64url), signed -> 401 DCS.1001');

    # bad JSON, signed
    for my $c (['{"alg":"HS256","typ":"JWT"', '{"project_id":"' . $pid . '","exp":' . ($now + 60) . '}', 'truncated header JSON'],
               ['{"alg":"HS256"}', '{"project_id":"' . $pid . '","exp":' . int($now + 60), 'truncated claims JSON'],
               ['{"alg":"HS256"}', '["project_id"]', 'claims are a JSON array'],
               ['{"alg":"HS256"}', 'not json', 'claims are not JSON'],
               ['"HS256"', json_encode(\%claims), 'header is a JSON string'],
               ['{"alg":"HS256"}', '', 'empty claims'],
               ['{"alg":"HS256"}', json_encode({ %claims, project_id => 12345 }), 'project_id is a number'],
               ['{"alg":"HS256"}', json_encode({ %claims, exp => "$claims{exp}" }), 'exp is a string'],
               ['{"alg":"HS256"}', json_encode({ map { $_ => $claims{$_} } grep { $_ ne 'exp' } keys %claims }),
                'no exp claim'],
               ['{"alg":"HS256"}', json_encode({ map { $_ => $claims{$_} } grep { $_ ne 'project_id' } keys %claims }),
                'no project_id claim'])
    {
        hs_bad(craft_jwt($c->[0], $c->[1], sign => $hs), "$c->[2], signed -> 401 DCS.1001");
    }
}

# size: exactly 8192 bytes is accepted, 8193 is not
{
    my $hdr = b64url(json_encode(\%hs_hdr));
    my %tok;
    for my $n (5700 .. 6300) {
        for my $m (0 .. 3) {
            my $c = b64url(json_encode({ %claims, sub => 'p' x (1 + $m), pad => 'x' x $n }));
            my $len = length($hdr) + 1 + length($c) + 1 + 43;
            $tok{$len} //= "$hdr.$c";
        }
        last if $tok{8192} && $tok{8193};
    }
    my ($t8192, $t8193) = map { $tok{$_} . '.' . b64url($hs->($tok{$_})) } 8192, 8193;
    is(length $t8192, 8192, 'a token of exactly 8192 bytes made');
    is(length $t8193, 8193, 'a token of 8193 bytes made');
    is_json_ok(send_token($t8192, port => $port{hs}), $LIST, 'valid 8192-byte token -> 200');
    hs_bad($t8193, 'valid but 8193-byte token -> 401 DCS.1001 (over 8 KiB)');
    hs_bad($t8193 x 2, 'valid token repeated to 16 KiB -> 401 DCS.1001');
}

# algorithm confusions
{
    # an RS256 token sent to a server whose key is an HS256 secret
    my $rs = sign_rs256($t, "$K/rs.pem");
    hs_bad(craft_jwt({ alg => 'RS256', typ => 'JWT' }, \%claims, sign => $rs),
           'RS256 token (valid RSA signature) against an HS256 secret -> 401 DCS.1001');
    hs_bad(token($t, %mint, key => "$K/rs.pem"), 'hotkeyctl RS256 token against an HS256 secret -> 401 DCS.1001');
    hs_bad(token($t, %mint, key => "$K/es.pem"), 'ES256 token against an HS256 secret -> 401 DCS.1001');

    # HS256 with the RSA public key (PEM text, as is and without the
    # newline; the DER) as the HMAC secret, sent to the RS256 server
    my $pem = slurp("$K/rs.pub");
    (my $pem_nonl = $pem) =~ s/\n\z//;
    my $der_b64 = join '', grep { !/-----/ } split /\n/, $pem;
    my $der = MIME::Base64::decode_base64($der_b64);
    for my $c ([$pem, 'the PEM text'], [$pem_nonl, 'the PEM without its last newline'],
               [$der, 'the DER bytes'])
    {
        my $tok = craft_jwt({ alg => 'HS256', typ => 'JWT' }, \%claims, sign => sign_hs256($c->[0]));
        is_json_error(send_token($tok, port => $port{rs}), 401, 'DCS.1001', $INVALID,
                      "HS256 token keyed with the RS256 public key ($c->[1]) -> 401 DCS.1001");
        $tok = craft_jwt({ alg => 'HS256', kid => $kid{rsa} }, \%claims, sign => sign_hs256($c->[0]));
        is_json_error(send_token($tok), 401, 'DCS.1001', $INVALID,
                      "JWKS: HS256 token with the RSA key's kid, keyed with $c->[1] -> 401 DCS.1001");
    }

    # wrong alg for the key type
    is_json_error(send_token(craft_jwt({ alg => 'RS256', kid => $kid{ec} }, \%claims, sign => $rs)),
                  401, 'DCS.1001', $INVALID, 'JWKS: RS256 token (valid RSA signature) with the EC key\'s kid -> 401 DCS.1001');
    is_json_error(send_token(token($t, %mint, key => "$K/rs.pem"), port => $port{es}),
                  401, 'DCS.1001', $INVALID, 'RS256 token to the ES256 server -> 401 DCS.1001');
    is_json_error(send_token(token($t, %mint, key => "$K/ed.pem"), port => $port{es}),
                  401, 'DCS.1001', $INVALID, 'EdDSA token to the ES256 server -> 401 DCS.1001');
    is_json_error(send_token(token($t, %mint, key => "$K/es.pem"), port => $port{ed}),
                  401, 'DCS.1001', $INVALID, 'ES256 token to the EdDSA server -> 401 DCS.1001');
    is_json_error(send_token(token($t, %mint, key => "$K/es.pem"), port => $port{rs}),
                  401, 'DCS.1001', $INVALID, 'ES256 token to the RS256 server -> 401 DCS.1001');
    # an ES256 token whose header says ES384 / RS256 but signed correctly
    my $good = token($t, %mint, key => "$K/es.pem");
    my ($h, $c, $s) = split /\./, $good;
    for my $alg ('ES384', 'RS256', 'PS256', 'EdDSA') {
        my $nh = b64url(json_encode({ alg => $alg, typ => 'JWT' }));
        my $in = "$nh.$c";
        is_json_error(send_token("$in.$s", port => $port{es}), 401, 'DCS.1001', $INVALID,
                      "ES256 key, header alg $alg -> 401 DCS.1001");
    }
    # ES256 signature in DER form instead of r||s (the signature of the
    # same input made by openssl, valid DER)
    my $in = "$h.$c";
    spew($t->prefix . '/tmp/es-in', $in);
    openssl('dgst', '-sha256', '-sign', "$K/es.pem", '-out', $t->prefix . '/tmp/es-sig',
            $t->prefix . '/tmp/es-in');
    my $dersig = slurp($t->prefix . '/tmp/es-sig');
    is_json_error(send_token("$in." . b64url($dersig), port => $port{es}), 401, 'DCS.1001', $INVALID,
                  'ES256 with a DER-encoded signature (not r||s) -> 401 DCS.1001');
}

# ---------------------------------------------------------------- project, actions

is_json_error(send_token(token($t, project => $other, key => "$K/hs.key"), port => $port{hs}),
              401, 'DCS.1004', $PROJECT, 'valid token of another project -> 401 DCS.1004');
is_json_error(send_token(token($t, project => uc $pid, key => "$K/hs.key"), port => $port{hs}),
              401, 'DCS.1004', $PROJECT, 'project_id in upper case (not exactly the path) -> 401 DCS.1004');
is_json_error(send_token(token($t, project => "$pid-x", key => "$K/hs.key"), port => $port{hs}),
              401, 'DCS.1004', $PROJECT, 'project_id with a suffix -> 401 DCS.1004');

sub hs_forbidden {
    my ($tok, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return is_json_error(send_token($tok, port => $port{hs}), 403, 'DCS.2007', $FORBID, $name);
}

hs_forbidden(token($t, %mint, key => "$K/hs.key", actions => ''), 'actions [] -> 403 DCS.2007');
hs_forbidden(craft_jwt(\%hs_hdr, { map { $_ => $claims{$_} } grep { $_ ne 'actions' } keys %claims },
                       sign => $hs), 'no actions claim -> 403 DCS.2007');
hs_forbidden(token($t, %mint, key => "$K/hs.key", actions => 'dcs:instance:analyze'),
             'actions [dcs:instance:analyze] -> 403 DCS.2007');
hs_forbidden(token($t, %mint, key => "$K/hs.key",
                   actions => 'dcs:instance:getHotKeyAutoScanConfig,dcs:instance:updateHotKeyAutoScanConfig'),
             'actions [get/updateHotKeyAutoScanConfig] -> 403 DCS.2007');
hs_forbidden(craft_jwt(\%hs_hdr, { %claims, actions => ['dcs:instance:listhotkeyx', 'listHotKey'] }, sign => $hs),
             'near-miss action names -> 403 DCS.2007');
for my $a ('dcs:instance:*', 'dcs:*:*', '*', 'dcs:instance:listHotKey,dcs:instance:analyze') {
    hs_ok(token($t, %mint, key => "$K/hs.key", actions => $a), "actions [$a] -> 200");
}
hs_ok(craft_jwt(\%hs_hdr, { %claims, actions => ['foo:bar:baz', 'dcs:instance:listHotKey'] }, sign => $hs),
      'an unknown action next to listHotKey is ignored -> 200');

# ---------------------------------------------------------------- NUL in claims, high-S

# cJSON decodes \u0000 into a NUL that ends its C string: the claims
# must not compare as their prefix.
{
    my $raw = sub {
        my ($pj, $aj, $extra) = @_;
        return sprintf '{"project_id":%s,"actions":[%s],"iat":%d,"exp":%d%s}',
                       $pj, $aj, $claims{iat}, $claims{exp}, $extra // '';
    };
    my $la = '"dcs:instance:listHotKey"';
    hs_ok(craft_jwt(\%hs_hdr, $raw->("\"$pid\"", $la), sign => $hs),
          'raw claims without NUL -> 200 (the control)');
    hs_bad(craft_jwt(\%hs_hdr, $raw->("\"$pid\\u0000x\"", $la), sign => $hs),
           'project_id "<id>\u0000x" -> 401 DCS.1001, not the project <id>');
    hs_bad(craft_jwt(\%hs_hdr, $raw->("\"$pid\\u0000\"", $la), sign => $hs),
           'project_id "<id>\u0000" -> 401 DCS.1001');
    hs_bad(craft_jwt(\%hs_hdr, $raw->("\"$pid\"", '"dcs:instance:listHotKey\u0000x"'), sign => $hs),
           'action "dcs:instance:listHotKey\u0000x" -> 401 DCS.1001, not listHotKey');
    hs_bad(craft_jwt(\%hs_hdr, $raw->("\"$pid\"", $la, ',"sub":"alice\u0000bob"'), sign => $hs),
           'sub with \u0000 -> 401 DCS.1001');
    hs_bad(craft_jwt('{"alg":"HS256","typ":"JWT\u0000"}', $raw->("\"$pid\"", $la), sign => $hs),
           'header string with \u0000 -> 401 DCS.1001');
    hs_ok(craft_jwt(\%hs_hdr, $raw->("\"$pid\"", $la, ',"sub":"a\\\\u0000b"'), sign => $hs),
          'sub with an escaped backslash before u0000 (no NUL) -> 200');
}

# ECDSA: (r, s) and (r, n - s) both verify; only the low-S one is taken,
# so that one token has one spelling (one token cache entry).
{
    use Math::BigInt;
    my $n = Math::BigInt->from_hex('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
    my $tok = token($t, %mint, key => "$K/es.pem");
    my ($h64, $p64, $s64) = split /\./, $tok;
    my $sig = b64url_dec($s64);
    my $s = Math::BigInt->from_hex(unpack 'H*', substr($sig, 32));
    ok($s <= $n->copy->brsft(1), 'hotkeyctl token mints ES256 signatures with a low s');
    my $flip = sub {
        my $x = $n->copy->bsub(Math::BigInt->from_hex(unpack 'H*', substr($_[0], 32)));
        my $hex = substr($x->as_hex, 2);
        return substr($_[0], 0, 32) . pack('H*', ('0' x (64 - length $hex)) . $hex);
    };
    my $high = "$h64.$p64." . b64url($flip->($sig));
    my $low = $s <= $n->copy->brsft(1) ? $tok : $high;
    $high = $low eq $tok ? $high : $tok;
    is_json_ok(send_token($low, port => $port{es}), $LIST, 'ES256 token with low s -> 200');
    is_json_error(send_token($high, port => $port{es}), 401, 'DCS.1001', $INVALID,
                  'the same ES256 token with s replaced by n - s (high s) -> 401 DCS.1001');
    is_json_error(send_token($high, port => $port{es}), 401, 'DCS.1001', $INVALID,
                  '... again, after the low-S one was cached -> 401 DCS.1001');
}

# The cache of verified tokens keys on the whole token: once a token is
# kept by both workers, a token one byte off anywhere (header, payload,
# signature), one byte shorter or one longer is verified, and refused.
{
    my $tok = token($t, %mint, key => "$K/es.pem", sub => 'cached');
    my $n = grep { $_->{status} == 200 } map { send_token($tok, port => $port{es}) } 1 .. 8;
    is($n, 8, 'token cache: one token sent 8 times (kept by both workers) -> 200 each time');
    my ($h64, $p64, $s64) = split /\./, $tok;
    my $flip = sub { my ($s, $i) = @_; substr($s, $i, 1) = substr($s, $i, 1) eq 'A' ? 'B' : 'A'; $s };
    my %bad = (
        'one byte off in the header'         => $flip->($h64, 5) . ".$p64.$s64",
        'one byte off in the payload'        => "$h64." . $flip->($p64, length($p64) - 3) . ".$s64",
        'one byte off in the signature'      => "$h64.$p64." . $flip->($s64, 10),
        'the last signature byte off'        => "$h64.$p64." . $flip->($s64, length($s64) - 2),
        'one byte shorter'                   => substr($tok, 0, -1),
        'one byte longer'                    => $tok . 'A',
    );
    for my $what (sort keys %bad) {
        my @r = map { send_token($bad{$what}, port => $port{es}) } 1 .. 4;
        is(scalar(grep { $_->{status} == 401 } @r), 4, "token cache: $what -> 401, 4 times");
    }
    is_json_ok(send_token($tok, port => $port{es}), $LIST, 'token cache: the kept token still -> 200');
}

# ---------------------------------------------------------------- nothing, garbage

is_json_error(send_token(undef), 401, 'DCS.1003', $NO_TOKEN, 'no token -> 401 DCS.1003');
is_json_error(send_token(undef, port => $port{hs}), 401, 'DCS.1003', $NO_TOKEN, 'no token (HS256 server) -> 401 DCS.1003');
is_json_error(send_token(undef, headers => [Authorization => 'Bearer ' . token($t, %mint, key => "$K/es.pem", kid => $kid{ec})]),
              401, 'APIGW.0301', 'Incorrect IAM authentication information: unsupported signing algorithm',
              'a valid token in Authorization: Bearer (not X-Auth-Token) -> 401 APIGW.0301 unsupported signing algorithm');
{
    my $huge = 'A' x 20000;
    my $bin = join '', map { chr } grep { $_ != 10 && $_ != 13 && $_ != 0x7f } 1 .. 255;
    $bin =~ s/^[ \t]+//;
    for my $c ([$huge, 'huge (20000 bytes)'], [$bin, 'binary, NUL-free'],
               ['', 'empty'], ['a.b.c', '"a.b.c"'], ['...', '"..."'], ['.', '"."'],
               ["\x{e9}t\x{e9}.\x{ff}.\x{80}", 'latin-1 bytes'])
    {
        my $r = send_token($c->[0], port => $port{hs});
        is_json_error($r, 401, 'DCS.1001', $INVALID, "X-Auth-Token $c->[1] -> 401 DCS.1001 JSON");
    }
    my $r = send_token($bin);
    is_json_error($r, 401, 'DCS.1001', $INVALID, 'JWKS server: binary X-Auth-Token -> 401 DCS.1001 JSON');
    $r = send_token('');
    is_json_error($r, 401, 'DCS.1001', $INVALID, 'JWKS server: empty X-Auth-Token -> 401 DCS.1001');
}

# ---------------------------------------------------------------- order of checks

{
    my $bad = 'not-a-token';
    is_json_error(send_token($bad, path => "$path?limit=abc"), 401, 'DCS.1001', $INVALID,
                  'bad token + bad limit -> 401 DCS.1001, not 400');
    is_json_error(send_token(undef, path => "$path?offset=-1&limit=0&status=nope"), 401, 'DCS.1003',
                  $NO_TOKEN, 'no token + bad query -> 401 DCS.1003');
    is_json_error(send_token(undef, path => '/v2/NOT_A_PROJECT/instances/not-a-uuid/hotkey-tasks'), 401,
                  'DCS.1003', $NO_TOKEN, 'no token + bad project and instance ids -> 401 DCS.1003');
    is_json_error(send_token(token($t, %mint, key => "$K/hs.key", ttl => 1, now => int(time) - 3600),
                             port => $port{hs}, path => "$path?limit=abc"),
                  401, 'DCS.1002', $EXPIRED, 'expired token + bad limit -> 401 DCS.1002');
    is_json_error(send_token(token($t, project => $other, key => "$K/hs.key"), port => $port{hs},
                             path => "$path?limit=abc"),
                  401, 'DCS.1004', $PROJECT, 'other project + bad limit -> 401 DCS.1004');
    is_json_error(send_token(token($t, %mint, key => "$K/hs.key", actions => ''), port => $port{hs},
                             path => "$path?limit=abc"),
                  403, 'DCS.2007', $FORBID, 'no permission + bad limit -> 403 DCS.2007');
    is_json_error(send_token(token($t, %mint, key => "$K/hs.key"), port => $port{hs}, path => "$path?limit=abc"),
                  400, 'DCS.4062', 'Invalid limit parameter in the request.',
                  'valid token + bad limit -> 400 DCS.4062 (auth passed first)');
    my $tokx = token($t, project => 'NOT_A_PROJECT', key => "$K/hs.key");
    is_json_error(send_token($tokx, port => $port{hs}, path => '/v2/NOT_A_PROJECT/instances/x/hotkey-tasks'),
                  400, 'DCS.4002', 'Invalid project ID format.',
                  'valid token for a malformed project id -> 400 DCS.4002 after auth');
    is_json_error(send_token(token($t, %mint, key => "$K/hs.key"), port => $port{hs},
                             path => $t->list_path($pid, uuid())),
                  404, 'DCS.3022', 'This DCS instance does not exist.',
                  'valid token, unknown instance -> 404 DCS.3022 (store after auth)');

    is_json_error(send_token($bad, path => "/v2/$pid/instances/$iid/nope"), 404, 'DCS.4001',
                  'The requested URL does not exist.', 'bad token on a non-route -> 404 DCS.4001 (route before auth)');
    is_json_error(send_token(undef, path => "/v2/$pid/instances"), 404, 'DCS.4001',
                  'The requested URL does not exist.', 'no token on a non-route -> 404 DCS.4001');
    my $r = send_token($bad, method => 'POST', body => '{}');
    is_json_error($r, 405, 'DCS.5001', 'This request method is not allowed.',
                  'bad token, POST on the route -> 405 DCS.5001 (method before auth)');
    is($r->{headers}{allow}, 'GET, HEAD', '405 has Allow: GET, HEAD');
    $r = send_token(undef, method => 'DELETE');
    is_json_error($r, 405, 'DCS.5001', 'This request method is not allowed.', 'no token, DELETE -> 405 DCS.5001');
}

# ---------------------------------------------------------------- time claims

# whole-second edges: tokens minted for a second S, sent at the start of S
# (at_second of Hotkey::Auth)
{
    my $now = int(time);
    is_json_error(send_token(token($t, %mint, key => "$K/hs.key", now => $now - 7200, ttl => 3600), port => $port{hs}),
                  401, 'DCS.1002', $EXPIRED, 'expired an hour ago -> 401 DCS.1002');
    hs_ok(token($t, %mint, key => "$K/hs.key", now => $now - 70, ttl => 60),
          'expired 10 s ago (default leeway 30 s) -> 200');
    is_json_error(send_token(token($t, %mint, key => "$K/hs.key", nbf => 120), port => $port{hs}),
                  401, 'DCS.1002', $EXPIRED, 'nbf 120 s in the future -> 401 DCS.1002');
    hs_ok(token($t, %mint, key => "$K/hs.key", nbf => 10), 'nbf 10 s in the future (within the leeway) -> 200');
    is_json_error(send_token(token($t, %mint, key => "$K/hs.key", iat => $now + 300), port => $port{hs}),
                  401, 'DCS.1002', $EXPIRED, 'iat 300 s in the future -> 401 DCS.1002');
    is_json_error(send_token(craft_jwt(\%hs_hdr, { %claims, exp => 1 }, sign => $hs), port => $port{hs}),
                  401, 'DCS.1002', $EXPIRED, 'exp 1 (1970) -> 401 DCS.1002');
    is_json_error(send_token(token($t, %mint, key => "$K/es.pem", now => $now - 7200, ttl => 3600), port => $port{es}),
                  401, 'DCS.1002', $EXPIRED, 'ES256 server (leeway 0): expired an hour ago -> 401 DCS.1002');

    # default leeway 30 s, at second S: exp = S-29 accepted, exp = S-30 refused;
    # nbf = S+30 accepted, nbf = S+31 refused
    my $S = int(time) + 2;
    my %e = map { ($_ => token($t, %mint, key => "$K/hs.key", now => $S - 100, ttl => 100 - $_, sub => "e$_")) } 29, 30, 31;
    my %n = map { ($_ => token($t, %mint, key => "$K/hs.key", now => $S, nbf => $_, sub => "n$_")) } 30, 31;
    at_second($S);
    my @r = map { send_token($e{$_}, port => $port{hs}) } 29, 30, 31;
    my @rn = map { send_token($n{$_}, port => $port{hs}) } 30, 31;
    is_json_ok($r[0], $LIST, 'leeway 30 s: exp = now - 29 -> 200');
    is_json_error($r[1], 401, 'DCS.1002', $EXPIRED, 'leeway 30 s: exp = now - 30 -> 401 DCS.1002');
    is_json_error($r[2], 401, 'DCS.1002', $EXPIRED, 'leeway 30 s: exp = now - 31 -> 401 DCS.1002');
    is_json_ok($rn[0], $LIST, 'leeway 30 s: nbf = now + 30 -> 200');
    is_json_error($rn[1], 401, 'DCS.1002', $EXPIRED, 'leeway 30 s: nbf = now + 31 -> 401 DCS.1002');

    # hotkey_auth_token_leeway 0 (ES256 server): exp = S refused, S+1
    # accepted; nbf = S accepted, S+1 refused; iat = S+1 refused
    $S = int(time) + 2;
    my $e0 = token($t, %mint, key => "$K/es.pem", now => $S - 10, ttl => 10, sub => 'exp0');
    my $e1 = token($t, %mint, key => "$K/es.pem", now => $S - 10, ttl => 11, sub => 'exp1');
    my $n0 = token($t, %mint, key => "$K/es.pem", now => $S, nbf => 0, sub => 'nbf0');
    my $n1 = token($t, %mint, key => "$K/es.pem", now => $S, nbf => 1, iat => $S, sub => 'nbf1');
    my $i1 = token($t, %mint, key => "$K/es.pem", now => $S, iat => $S + 1, sub => 'iat1');
    my $i0 = token($t, %mint, key => "$K/es.pem", now => $S, iat => $S, sub => 'iat0');
    at_second($S);
    @r = map { send_token($_, port => $port{es}) } $e0, $e1, $n0, $n1, $i1, $i0;
    is_json_error($r[0], 401, 'DCS.1002', $EXPIRED, 'leeway 0: exp = now -> 401 DCS.1002');
    is_json_ok($r[1], $LIST, 'leeway 0: exp = now + 1 -> 200');
    is_json_ok($r[2], $LIST, 'leeway 0: nbf = now -> 200');
    is_json_error($r[3], 401, 'DCS.1002', $EXPIRED, 'leeway 0: nbf = now + 1 -> 401 DCS.1002');
    is_json_error($r[4], 401, 'DCS.1002', $EXPIRED, 'leeway 0: iat = now + 1 -> 401 DCS.1002');
    is_json_ok($r[5], $LIST, 'leeway 0: iat = now -> 200');

    # a token accepted (and cached) stops working when it expires
    $S = int(time) + 2;
    my $short = token($t, %mint, key => "$K/es.pem", now => $S - 10, ttl => 11, sub => 'short');
    at_second($S);
    is_json_ok(send_token($short, port => $port{es}), $LIST, 'leeway 0: token valid for this second -> 200');
    at_second($S + 1);
    is_json_error(send_token($short, port => $port{es}), 401, 'DCS.1002', $EXPIRED,
                  'leeway 0: the same token a second later (after a cached success) -> 401 DCS.1002');
}

# ---------------------------------------------------------------- $hotkey_principal

{
    my $alice = token($t, %mint, key => "$K/es.pem", kid => $kid{ec}, sub => 'alice');
    is(send_token($alice, path => "$path?limit=1&who=alice")->{status}, 200, 'token with sub alice -> 200');
    is(send_token(token($t, %mint, key => "$K/es.pem", kid => $kid{ec}), path => "$path?limit=1&who=nosub")->{status},
       200, 'token without sub -> 200');
    send_token(undef, path => "$path?limit=1&who=none");
    my $log = '';
    for (1 .. 50) {
        $log = slurp($plog);
        last if $log =~ /who=none/;
        sleep 0.05;
    }
    like($log, qr/^alice 200 \Q$path\E\?limit=1&who=alice$/m, '$hotkey_principal is the token\'s sub');
    like($log, qr/^$pid 200 \Q$path\E\?limit=1&who=nosub$/m, '$hotkey_principal falls back to project_id without sub');
    like($log, qr/^- 401 \Q$path\E\?limit=1&who=none$/m, '$hotkey_principal is empty for a refused request');
}

# ---------------------------------------------------------------- reload with a new key

{
    my $ta = token($t, %mint, key => "$K/rla.pem", sub => 'key-a');
    my $tb = token($t, %mint, key => "$K/rlb.pem", sub => 'key-b');
    is_json_ok(send_token($ta, port => $port{rl}), $LIST, 'before reload: token of key A -> 200');
    is_json_error(send_token($tb, port => $port{rl}), 401, 'DCS.1001', $INVALID,
                  'before reload: token of key B -> 401 DCS.1001');
    system('cp', "$K/rlb.pub", "$K/reload.pub.new") == 0 or die;
    rename "$K/reload.pub.new", "$K/reload.pub" or die;
    my ($rc, $replaced, $out) = $t->reload;
    is($rc, 0, 'nginx -s reload after replacing the key file') or diag $out;
    ok($replaced, 'new workers took over');
    is_json_error(send_token($ta, port => $port{rl}), 401, 'DCS.1001', $INVALID,
                  'after reload: token of key A (verified and cached before) -> 401 DCS.1001');
    is_json_ok(send_token($tb, port => $port{rl}), $LIST, 'after reload: token of key B -> 200');
    is_json_ok(send_token(token($t, %mint, key => "$K/hs.key"), port => $port{hs}), $LIST,
               'after reload: the other servers still work');
}

# ---------------------------------------------------------------- nginx -t

{
    my ($rc, $out) = $t->nginx_t(auth_server($t, port => free_port(), auth => 'on'));
    isnt($rc, 0, 'hotkey_auth on with neither keys nor credentials: nginx -t fails');
    like($out, qr/hotkey_auth/, '... naming hotkey_auth') or diag $out;
    ($rc, $out) = $t->nginx_t(auth_server($t, port => free_port()));
    isnt($rc, 0, 'auth on by default, neither keys nor credentials: nginx -t fails');
    like($out, qr/hotkey_auth/, '... naming hotkey_auth') or diag $out;
    ($rc, $out) = $t->nginx_t(auth_server($t, port => free_port(), auth => 'off'));
    is($rc, 0, 'hotkey_auth off without keys: nginx -t passes') or diag $out;
    ($rc, $out) = $t->nginx_t(auth_server($t, port => free_port(), keys => "$K/jwks.json"));
    is($rc, 0, 'a good JWKS: nginx -t passes') or diag $out;

    my $rsa1024 = "$K/rsa1024.pub";
    openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', "$K/rsa1024.pem");
    openssl('pkey', '-in', "$K/rsa1024.pem", '-pubout', '-out', $rsa1024);
    my %bad = (
        'missing.pub'   => undef,
        'garbage.pem'   => "-----BEGIN PUBLIC KEY-----\nnot base64 at all!\n-----END PUBLIC KEY-----\n",
        'short.key'     => ('s' x 31) . "\n",
        'private.pem'   => slurp("$K/es.pem"),
        'bad.json'      => '{"keys":[{"kty":"EC","crv":"P-256","x":"abc"',
        'empty.jwks'    => '{"keys":[]}',
        'oct-short.jwk' => json_encode({ kty => 'oct', k => b64url('x' x 16) }),
        'rsa1024.pub'   => slurp($rsa1024),
        'empty.key'     => '',
    );
    for my $f (sort keys %bad) {
        spew("$K/$f", $bad{$f}) if defined $bad{$f};
        ($rc, $out) = $t->nginx_t(auth_server($t, port => free_port(), keys => "$K/$f"));
        isnt($rc, 0, "bad key file $f: nginx -t fails");
        like($out, qr/\Q$K\/$f\E/, "... naming the file $f") or diag $out;
        unlike($out, qr/\Q$secret\E/, "... without a secret in the message");
    }
}

# ---------------------------------------------------------------- a 16384-bit RSA key

# A PEM public key with a random 16384-bit modulus (built with asn1parse:
# generating a real key takes minutes).  Its thumbprint once overflowed a
# 1 KiB stack buffer: nginx -t and hotkeyctl jwks died with SIGSEGV.
sub rsa_pub_of_bits {
    my ($bits, $name) = @_;
    my $hex = '';
    $hex .= sprintf '%08x', int(rand(2**32)) for 1 .. $bits / 32;
    substr($hex, 0, 1) = 'c';
    substr($hex, -1, 1) = 'f';
    spew("$K/$name.cnf", "asn1=SEQUENCE:spki\n[spki]\nalg=SEQUENCE:alg\n"
         . "key=BITWRAP,SEQUENCE:rsa\n[alg]\noid=OID:rsaEncryption\nnull=NULL\n"
         . "[rsa]\nn=INTEGER:0x$hex\ne=INTEGER:0x010001\n");
    openssl('asn1parse', '-genconf', "$K/$name.cnf", '-out', "$K/$name.der", '-noout');
    openssl('pkey', '-pubin', '-inform', 'DER', '-in', "$K/$name.der", '-out', "$K/$name.pub");
    return "$K/$name.pub";
}

{
    my $big = rsa_pub_of_bits(16384, 'rsa16384');
    my ($rc, $out) = $t->nginx_t(auth_server($t, port => free_port(), keys => $big));
    is($rc, 0, '16384-bit RSA public key: nginx -t passes (no crash)') or diag $out;
    unlike($out, qr/signal|SIGSEGV|core dumped/i, '... and no signal in the output');
    ($rc, $out) = ctl($t, 'jwks', '--key', $big);
    is($rc, 0, '16384-bit RSA public key: hotkeyctl jwks exits 0') or diag $out;
    my $doc = eval { json_decode($out) };
    my $n = $doc && $doc->{keys} && $doc->{keys}[0]{n};
    is(length($n // ''), 2731, '... printing its 2048-byte modulus, base64url');
    like($doc && $doc->{keys}[0]{kid} // '', qr/^[A-Za-z0-9_-]{43}$/, '... with its thumbprint as kid');

    my $huge = rsa_pub_of_bits(32768, 'rsa32768');
    ($rc, $out) = $t->nginx_t(auth_server($t, port => free_port(), keys => $huge));
    isnt($rc, 0, '32768-bit RSA public key (past what OpenSSL verifies): nginx -t refuses it');
    like($out, qr/rsa32768\.pub/, '... naming the file') or diag $out;
    ok(($? & 127) == 0, '... as an error, not a signal');
    ($rc, $out) = ctl($t, 'jwks', '--key', $huge);
    ok($rc != 0 && ($? & 127) == 0, '32768-bit key: hotkeyctl jwks fails cleanly') or diag "rc $rc: $out";
}

# ---------------------------------------------------------------- secrets not logged

{
    my $log = $t->log_text;
    like($log, qr/hotkey token refused/, 'the error log has the refusals (info level)');
    unlike($log, qr/\Q$secret\E/, 'the HS256 secret is not in the error log');
    unlike($log, qr/\Q$secret2\E/, 'the JWKS oct secret is not in the error log');
    my $b64s = b64url($secret2);
    unlike($log, qr/\Q$b64s\E/, 'the oct key\'s base64url k is not in the error log');
    my @leaked = grep { length($_) >= 20 && index($log, $_) >= 0 } @sigs;
    is(scalar @leaked, 0, 'no token signature (' . scalar(@sigs) . ' sent) is in the error log')
        or diag("leaked: @leaked[0 .. ($#leaked < 3 ? $#leaked : 3)]");
    my $al = slurp($t->prefix . '/logs/access.log') . slurp($plog);
    my @leaked2 = grep { length($_) >= 20 && index($al, $_) >= 0 } @sigs;
    is(scalar @leaked2, 0, 'no token signature is in the access logs');
}

$t->done;
