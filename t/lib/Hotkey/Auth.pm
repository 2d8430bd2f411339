package Hotkey::Auth;

# Helpers of the authentication tests (t/2xx-auth-*.t), on top of
# Hotkey::Test (core Perl modules only, plus the openssl command and
# build/hotkeyctl).
#
#   use Hotkey::Auth qw(:all);
#   my $snippet = auth_server($t, port => $p, keys => $file,
#                             creds => $file, leeway => '0', skew => '15m',
#                             extra => '...', server_extra => '...');
#   my ($rc, $out) = ctl($t, 'token', '--key', $k, '--project', $pid);
#   my $tok = token($t, key => $k, project => $pid, ...);   # dies on error
#   my @h = signed_headers($t, ak => , sk => , url => , ...); # [name, value]
#   my $jwt = craft_jwt(\%header, \%claims, sign => sub { $input -> $sig });
#   aksk_signature(method => , path => , query => , headers => [[n, v]...],
#                  signed => 'a;b', body => , date => , sk => )
#   sdk_date($epoch), at_second_start(), at_second($s), b64url, b64url_dec, openssl(...)

use strict;
use warnings;

use Exporter 'import';
use Test::More;
use MIME::Base64 qw(encode_base64 decode_base64);
use Digest::SHA qw(sha256 sha256_hex hmac_sha256 hmac_sha256_hex);
use POSIX qw(strftime);
use Time::HiRes qw(time sleep);
use JSON::PP ();

our @EXPORT_OK = qw(
    auth_server ctl ctl_path token signed_headers craft_jwt jwt_split
    b64url b64url_dec openssl sh spew slurp sdk_date at_second_start at_second
    aksk_canonical aksk_signature pct_encode sign_rs256 sign_hs256
    is_auth_error
);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

my $JSON = JSON::PP->new->canonical;

sub spew {
    my ($f, $d, $mode) = @_;
    open my $fh, '>:raw', $f or die "$f: $!";
    print $fh $d;
    close $fh or die "$f: $!";
    chmod $mode, $f if defined $mode;
}

sub slurp {
    my ($f) = @_;
    open my $fh, '<:raw', $f or return '';
    local $/;
    my $d = <$fh>;
    return $d // '';
}

sub _q { my $s = shift; $s =~ s/'/'\\''/g; "'$s'" }

# sh(@argv): runs a command (no shell parsing of the arguments); returns
# (exit code, stdout+stderr).
sub sh {
    my $cmd = join ' ', map { _q($_) } @_;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

sub openssl {
    my ($rc, $out) = sh('openssl', @_);
    die "openssl @_: $out" if $rc;
    return $out;
}

sub b64url {
    my $s = encode_base64(shift, '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

sub b64url_dec {
    my $s = shift;
    $s =~ tr{-_}{+/};
    $s .= '=' x (-length($s) % 4);
    return decode_base64($s);
}

# The hotkeyctl of the build, copied into the test prefix once (others
# rebuild build/ in the shared checkout meanwhile).
sub ctl_path {
    my ($t) = @_;
    return $t->{_hotkeyctl} if $t->{_hotkeyctl};
    my $src = Hotkey::Test::build_file('hotkeyctl');
    BAIL_OUT("$src not built (make cli)") unless -x $src;
    for (1 .. 50) {
        my @st = stat $src;
        last if @st && time - $st[9] >= 1;
        sleep 0.1;
    }
    my $dst = $t->prefix . '/hotkeyctl';
    system('cp', $src, $dst) == 0 or die "cp $src: $?";
    return $t->{_hotkeyctl} = $dst;
}

sub ctl {
    my ($t, @args) = @_;
    return sh(ctl_path($t), @args);
}

# token($t, key => , project => , alg => , actions => , ttl => , kid => ,
#       sub => , now => , nbf => (offset), iat => , rate => , burst => ):
# a JWT from hotkeyctl.
sub token {
    my ($t, %o) = @_;
    my @a = ('token', '--key', $o{key}, '--project', $o{project});
    push @a, '--alg', $o{alg} if $o{alg};
    my @flags = (actions => '--actions', ttl => '--ttl', kid => '--kid',
                 sub => '--sub', now => '--now', nbf => '--nbf-offset',
                 iat => '--iat', rate => '--rate', burst => '--burst');
    while (my ($k, $flag) = splice @flags, 0, 2) {
        push @a, $flag, $o{$k} if defined $o{$k};
    }
    my ($rc, $out) = ctl($t, @a);
    die "hotkeyctl @a: $out" if $rc;
    chomp $out;
    return $out;
}

# signed_headers($t, ak => , sk => , url => , method => , headers => [..],
#                data => , date => , signed => 'a;b', scheme => ,
#                region => , service => ): the headers hotkeyctl sign
# prints, as a list of [name, value].
sub signed_headers {
    my ($t, %o) = @_;
    my @a = ('sign', '--ak', $o{ak}, '--sk', $o{sk}, '--url', $o{url});
    push @a, '--method', $o{method} if $o{method};
    push @a, '--header', $_ for @{ $o{headers} || [] };
    push @a, '--data', $o{data} if defined $o{data};
    push @a, '--date', $o{date} if defined $o{date};
    push @a, '--signed-headers', $o{signed} if defined $o{signed};
    push @a, '--scheme', $o{scheme} if defined $o{scheme};
    push @a, '--region', $o{region} if defined $o{region};
    push @a, '--service', $o{service} if defined $o{service};
    my ($rc, $out) = ctl($t, @a);
    die "hotkeyctl @a: $out" if $rc;
    return map { [ /^([^:]+):\s?(.*)$/ ] } grep { length } split /\n/, $out;
}

# The http{} snippet of one server with authentication on (the default):
#   port => , keys => file, creds => file, leeway => , skew => ,
#   auth => 'on'|'off' (written only when given), extra => (location),
#   server_extra => , location => '/v2/', store => 'host:port'
sub auth_server {
    my ($t, %o) = @_;
    my $port = $o{port} || $t->nginx_port;
    my $up = "hk_auth_$port";
    my $conf = "    upstream $up {\n"
             . "        server " . ($o{store} || '127.0.0.1:' . $t->redis_port) . ";\n"
             . "        keepalive 8;\n    }\n";
    my $loc = $o{location} || '/v2/';
    my $d = "            hotkey_api on;\n            hotkey_store $up;\n";
    $d .= "            hotkey_auth $o{auth};\n" if defined $o{auth};
    $d .= "            hotkey_auth_token_keys $o{keys};\n" if $o{keys};
    $d .= "            hotkey_auth_credentials $o{creds};\n" if $o{creds};
    $d .= "            hotkey_auth_token_leeway $o{leeway};\n" if defined $o{leeway};
    $d .= "            hotkey_auth_date_skew $o{skew};\n" if defined $o{skew};
    $d .= $o{extra} // '';
    my $se = $o{server_extra} // '';
    $conf .= <<"EOF";
    server {
        listen 127.0.0.1:$port;
        server_name localhost;
$se
        location $loc {
$d
        }
    }
EOF
    $conf =~ s/^\n//mg;
    return $conf;
}

# craft_jwt(\%header | $raw_header_json, \%claims | $raw_claims_json,
#           sign => sub { my ($input) = @_; return $raw_signature })
sub craft_jwt {
    my ($h, $c, %o) = @_;
    my $hj = ref $h ? $JSON->encode($h) : $h;
    my $cj = ref $c ? $JSON->encode($c) : $c;
    my $input = b64url($hj) . '.' . b64url($cj);
    my $sig = $o{sign} ? $o{sign}->($input) : '';
    return "$input." . b64url($sig);
}

sub jwt_split {
    my ($jwt) = @_;
    my @p = split /\./, $jwt, -1;
    return (scalar $JSON->decode(b64url_dec($p[0])),
            scalar $JSON->decode(b64url_dec($p[1])), $p[2]);
}

sub sign_hs256 {
    my ($secret) = @_;
    return sub { hmac_sha256($_[0], $secret) };
}

# RS256 with openssl (PKCS#1 v1.5, SHA-256)
sub sign_rs256 {
    my ($t, $keyfile) = @_;
    return sub {
        my $in = $t->prefix . '/tmp/jws-in';
        spew($in, $_[0]);
        my $sigf = "$in.sig";
        openssl('dgst', '-sha256', '-sign', $keyfile, '-out', $sigf, $in);
        return slurp($sigf);
    };
}

# YYYYMMDDTHHMMSSZ of an epoch
sub sdk_date { strftime('%Y%m%dT%H%M%SZ', gmtime($_[0])) }

# Waits until the wall clock is just past a second boundary and returns
# that second: requests sent right after see the same time() in nginx.
sub at_second_start {
    my $now = time;
    my $frac = $now - int($now);
    sleep(1.02 - $frac) if $frac > 0.3;
    return int(time);
}

# at_second($s): sleeps until just after the start of the epoch second $s
# (at once when it has begun); says so when that is more than 0.5 s late.
sub at_second {
    my ($s) = @_;
    my $d = $s - time;
    sleep($d + 0.01) if $d > -0.01;
    my $late = time - $s;
    diag(sprintf 'sent %.3fs into the second', $late) if $late > 0.5;
}

# ---------------------------------------------------------------- AK/SK

sub _unpct {
    my ($s, $plus) = @_;
    $s =~ s/\+/ /g if $plus;
    $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return $s;
}

sub pct_encode {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-_.~])/sprintf '%%%02X', ord $1/ge;
    return $s;
}

# The canonical request of api.md section 5 (an independent Perl
# implementation): method, path (raw, %-encoded as sent), query (raw),
# headers [[name, value]...] as sent, signed 'a;b;c', body.
sub aksk_canonical {
    my (%o) = @_;
    my $path = join '/', map { pct_encode(_unpct($_)) } split m{/}, $o{path}, -1;
    $path .= '/' unless $path =~ m{/$};
    my @q;
    for my $p (grep { length } split /&/, $o{query} // '') {
        my ($n, $v) = $p =~ /=/ ? split(/=/, $p, 2) : ($p, '');
        push @q, [ _unpct($n, 1), _unpct($v, 1) ];
    }
    @q = sort { $a->[0] cmp $b->[0] || $a->[1] cmp $b->[1] } @q;
    my $query = join '&', map { pct_encode($_->[0]) . '=' . pct_encode($_->[1]) } @q;
    my @names = map { lc } split /;/, $o{signed};
    my %hv;
    for (@{ $o{headers} }) {
        my $v = $_->[1];
        $v =~ s/^[ \t]+|[ \t]+$//g;
        $hv{ lc $_->[0] } = $v;
    }
    my $ch = join '', map { "$_:" . ($hv{$_} // '') . "\n" } @names;
    my $payload = defined $o{body} && length $o{body} ? sha256_hex($o{body})
                                                      : sha256_hex('');
    return join "\n", $o{method}, $path, $query, $ch, join(';', @names), $payload;
}

sub aksk_signature {
    my (%o) = @_;
    my $canon = aksk_canonical(%o);
    my $sts = "SDK-HMAC-SHA256\n$o{date}\n" . sha256_hex($canon);
    return hmac_sha256_hex($sts, $o{sk});
}

# is_auth_error($res, $status, $code, $msg, $name): is_json_error plus
# no WWW-Authenticate / body leak checks left to the caller.
sub is_auth_error {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Hotkey::Test::is_json_error(@_);
}

1;
