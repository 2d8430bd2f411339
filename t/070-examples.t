#!/usr/bin/perl
# The shipped configurations:
#
#  1. `nginx -t` accepts every complete config in conf-examples/ (one with
#     an events {} block) and docker/nginx.conf, with the placeholders
#     replaced by temp paths, free ports and the built module. Snippets
#     (no events {} block, e.g. json-errors.conf) are checked inside a
#     minimal server {} (or else http {}) block. No [warn] or worse.
#  2. json-errors.conf really turns nginx's own errors into the JSON shape:
#     a plain nginx (no module needed) with the snippet gets malformed
#     request lines, oversized URI / header / body, deny, a dead upstream,
#     ... and must answer JSON with the documented status and code.
#
# Placeholders the examples may use (anything else @LIKE_THIS@ fails):
#   @MODULE@ @PREFIX@ @LISTEN@ @PORT@ @REDIS_PORT@ @USER@
#   @METRICS_PORT@         (a second free port)
#   @TLS_CERT@ @TLS_KEY@   (a throwaway self-signed pair, made with openssl)
#   @TOKEN_KEYS@           (a throwaway ES256 public key, PEM)
#   @CREDENTIALS@          (a throwaway AK/SK credentials file)
#
# Core Perl modules only; no Hotkey::Test object (only its free_port,
# module_path and private_copy). HOTKEY_MODULE / HOTKEY_BUILD /
# HOTKEY_NGINX as for t/lib/Hotkey/Test.pm.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Hotkey::Test qw(free_port module_path private_copy);
use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use Time::HiRes qw(sleep time);

my $top = abs_path("$FindBin::Bin/..");
my $nginx = $ENV{HOTKEY_NGINX} || '/usr/sbin/nginx';
my $module = module_path();

plan skip_all => "no nginx at $nginx" unless -x $nginx;

# a private copy: others may rebuild build/ while this test runs
$module = private_copy($module) if -f $module;

my $root = $> == 0;
sub slurp { my ($f) = @_; open my $fh, '<', $f or die "$f: $!"; local $/; <$fh> }
sub spew  { my ($f, $s) = @_; open my $fh, '>', $f or die "$f: $!"; print $fh $s; close $fh or die }

sub new_prefix {
    my $dir = tempdir('hotkey-examples-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    mkdir "$dir/$_" for qw(conf logs tmp);
    return $dir;
}

my ($cert, $key);
sub tls_pair {
    return ($cert, $key) if $cert;
    my $dir = tempdir('hotkey-tls-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    ($cert, $key) = ("$dir/cert.pem", "$dir/key.pem");
    system("openssl req -x509 -newkey rsa:2048 -nodes -keyout '$key'"
           . " -out '$cert' -days 2 -subj /CN=localhost 2>/dev/null") == 0
        or die "openssl req failed";
    return ($cert, $key);
}

my ($token_keys, $credentials);
sub auth_files {
    return ($token_keys, $credentials) if $token_keys;
    my $dir = tempdir('hotkey-auth-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    ($token_keys, $credentials) = ("$dir/token-keys.pem", "$dir/credentials");
    system("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '$dir/k.pem' 2>/dev/null"
           . " && openssl pkey -in '$dir/k.pem' -pubout -out '$token_keys' 2>/dev/null") == 0
        or die "openssl genpkey failed";
    spew($credentials, "AKEXAMPLE0123456789 " . ('s' x 40)
         . " projects=0123456789abcdef0123456789abcdef actions=dcs:instance:listHotKey name=example\n");
    chmod 0600, $credentials;
    return ($token_keys, $credentials);
}

# substitute(text, prefix): the placeholders; returns (text, [unknown])
sub substitute {
    my ($text, $prefix) = @_;
    my %v = (
        MODULE     => $module,
        PREFIX     => $prefix,
        LISTEN     => '127.0.0.1',
        PORT       => free_port(),
        REDIS_PORT => free_port(),
        METRICS_PORT => free_port(),
        USER       => $root ? 'root' : scalar getpwuid($>),
    );
    if ($text =~ /\@TLS_(?:CERT|KEY)\@/) {
        @v{qw(TLS_CERT TLS_KEY)} = tls_pair();
    }
    if ($text =~ /\@(?:TOKEN_KEYS|CREDENTIALS)\@/) {
        @v{qw(TOKEN_KEYS CREDENTIALS)} = auth_files();
    }
    my @unknown;
    $text =~ s{\@([A-Z][A-Z0-9_]*)\@}{
        exists $v{$1} ? $v{$1} : do { push @unknown, $1; "\@$1\@" }
    }ge;
    # not root: `user` makes nginx warn; run.sh drops the line likewise
    $text =~ s/^\s*user\s+[^;]*;\s*$//mg unless $root;
    return ($text, \@unknown);
}

# nginx_t(prefix, conf): runs nginx -t, returns (ok, output)
sub nginx_t {
    my ($prefix, $conf) = @_;
    my $out = `'$nginx' -t -p '$prefix/' -c '$conf' -e '$prefix/logs/error.log' 2>&1`;
    my $ok = $? == 0 && $out =~ /test is successful/;
    return ($ok, $out);
}

sub check_ok {
    my ($name, $ok, $out) = @_;
    ok($ok, "$name: nginx -t accepts it") or diag($out);
    my @bad = grep { /\[(warn|error|crit|alert|emerg)\]/ } split /\n/, $out;
    ok(!@bad, "$name: no warnings") or diag(join "\n", @bad);
}

my @examples = sort glob("$top/conf-examples/*.conf");
ok(@examples, 'conf-examples/ has configurations');

SKIP: {
    skip "module not built ($module): run make build", 1 unless -f $module;

    for my $file (@examples) {
        (my $name = $file) =~ s{.*/}{};
        my $prefix = new_prefix();
        # every example next to every other, so relative includes resolve
        my @unknown;
        for my $other (@examples) {
            (my $n = $other) =~ s{.*/}{};
            my ($text, $u) = substitute(slurp($other), $prefix);
            push @unknown, @$u if $other eq $file;
            spew("$prefix/conf/$n", $text);
        }
        is_deeply(\@unknown, [], "$name: no unknown placeholders")
            or diag("add them to t/070-examples.t: @unknown");

        if (slurp($file) =~ /^\s*events\s*\{/m) {
            check_ok($name, nginx_t($prefix, "conf/$name"));
            next;
        }

        # a snippet: try it in a server {} block, else at the http {} level
        my $user = $root ? "user root;\n" : '';
        my $port = free_port();
        my $wrap = sub {
            my ($in_server) = @_;
            my $inc = "include $name;";
            return "$user"
                . "pid $prefix/logs/nginx.pid;\n"
                . "error_log $prefix/logs/error.log;\n"
                . "events { worker_connections 64; }\n"
                . "http {\n"
                . "  access_log off;\n"
                . "  client_body_temp_path $prefix/tmp/body;\n"
                . "  proxy_temp_path $prefix/tmp/proxy;\n"
                . "  fastcgi_temp_path $prefix/tmp/fastcgi;\n"
                . "  uwsgi_temp_path $prefix/tmp/uwsgi;\n"
                . "  scgi_temp_path $prefix/tmp/scgi;\n"
                . ($in_server ? '' : "  $inc\n")
                . "  server {\n    listen 127.0.0.1:$port;\n"
                . ($in_server ? "    $inc\n" : '')
                . "  }\n}\n";
        };
        spew("$prefix/conf/wrap-server.conf", $wrap->(1));
        my ($ok, $out) = nginx_t($prefix, 'conf/wrap-server.conf');
        if (!$ok) {
            spew("$prefix/conf/wrap-http.conf", $wrap->(0));
            my ($ok2, $out2) = nginx_t($prefix, 'conf/wrap-http.conf');
            ($ok, $out) = $ok2 ? ($ok2, $out2) : ($ok, "$out\n(at http level:)\n$out2");
        }
        check_ok("$name (snippet)", $ok, $out);
    }

    # docker/nginx.conf: container paths and the `redis` service name
    # replaced by local ones, throwaway keys where compose mounts the real
    my $docker = "$top/docker/nginx.conf";
    if (-f $docker) {
        my $prefix = new_prefix();
        my $text = slurp($docker);
        my $port = free_port();
        $text =~ s{/usr/lib/nginx/modules/ngx_http_hotkey_module\.so}{$module}g;
        $text =~ s{/etc/nginx/}{$prefix/conf/}g;
        $text =~ s{/var/lib/nginx/}{$prefix/tmp/}g;
        $text =~ s{/run/nginx\.pid}{$prefix/logs/nginx.pid}g;
        $text =~ s{\bredis:6379\b}{127.0.0.1:6379}g;
        $text =~ s{\blisten\s+8080\b}{listen 127.0.0.1:$port}g;
        my $mport = free_port();
        $text =~ s{\blisten\s+9145\b}{listen 127.0.0.1:$mport}g;
        $text =~ s/^\s*user\s+[^;]*;\s*$//mg unless $root;
        spew("$prefix/conf/nginx.conf", $text);
        spew("$prefix/conf/json-errors.conf",
             slurp("$top/conf-examples/json-errors.conf"));
        # the keys compose mounts at /etc/nginx/hotkey/
        mkdir "$prefix/conf/hotkey";
        my ($k, $c) = auth_files();
        spew("$prefix/conf/hotkey/token-keys.pem", slurp($k));
        spew("$prefix/conf/hotkey/credentials", slurp($c));
        chmod 0600, "$prefix/conf/hotkey/credentials";
        check_ok('docker/nginx.conf', nginx_t($prefix, 'conf/nginx.conf'));
    }
}

# ------------------------------------------------ json-errors.conf at work

# raw(port, bytes): sends a request as is, returns (status, \%headers, body)
sub raw {
    my ($port, $req) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or return (0, {}, "connect: $!");
    binmode $s;
    local $SIG{PIPE} = 'IGNORE';
    print {$s} $req;
    # no shutdown(SHUT_WR): nginx would take it for a client that gave up
    # (499) before a slow answer; every request here ends in a close
    my ($buf, $sel, $end) = ('', IO::Select->new($s), time + 10);
    while (time < $end && $sel->can_read($end - time)) {
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;
    }
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $buf, 2;
    return (0, {}, $buf) unless defined $head && $head =~ m{^HTTP/1\.\d (\d{3})};
    my $status = $1;
    my %h;
    for (split /\r\n/, $head) {
        $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    return ($status, \%h, $body // '');
}

my $running_pidfile;
END {
    if ($running_pidfile && open my $fh, '<', $running_pidfile) {
        my ($pid) = <$fh> =~ /(\d+)/;
        if ($pid) {
            kill 'QUIT', $pid;
            for (1 .. 50) { last unless kill 0, $pid; sleep 0.1 }
        }
    }
}

subtest 'json-errors.conf turns nginx errors into JSON' => sub {
    my $prefix = new_prefix();
    $running_pidfile = "$prefix/logs/nginx.pid";
    my $port = free_port();
    my $dead = free_port();     # nothing listens there: 502
    mkdir "$prefix/html";
    spew("$prefix/html/file.txt", "a file\n");
    spew("$prefix/conf/json-errors.conf",
         slurp("$top/conf-examples/json-errors.conf"));
    my $user = $root ? "user root;\n" : '';
    spew("$prefix/conf/nginx.conf", <<"EOF");
${user}worker_processes 1;
pid $prefix/logs/nginx.pid;
error_log $prefix/logs/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    client_max_body_size 1k;
    limit_req_zone \$binary_remote_addr zone=one:1m rate=1r/m;
    limit_req_status 429;
    upstream dead { server 127.0.0.1:$dead; }
    server {
        listen 127.0.0.1:$port;
        include json-errors.conf;
        root $prefix/html;
        location / { }
        location = /deny { deny all; }
        location = /limited { limit_req zone=one; try_files /file.txt =404; }
        location = /proxy { proxy_pass http://dead; }
        location = /post { return 200 "posted"; }
        location = /fail { return 500; }
    }
}
EOF
    my $out = `'$nginx' -p '$prefix/' -c conf/nginx.conf -e logs/error.log 2>&1`;
    is($?, 0, 'plain nginx with json-errors.conf starts') or do { diag($out); return };
    my $up = 0;
    for (1 .. 50) {
        my $s = IO::Socket::INET->new("127.0.0.1:$port") and do { $up = 1; last };
        sleep 0.1;
    }
    ok($up, 'listening');

    my $h = "Host: localhost\r\n";
    my $get = sub { "GET $_[0] HTTP/1.1\r\n$h" . ($_[1] // '') . "Connection: close\r\n\r\n" };
    my @cases = (
        [ 'malformed request line', "G\@T / HTTP/1.1\r\n$h\r\n", 400, 'DCS.4000', 'Invalid request.' ],
        [ 'not a request at all', "\x01\x02 hello\r\n\r\n", 400, 'DCS.4000', 'Invalid request.' ],
        [ 'relative URI', "GET abc HTTP/1.1\r\n$h\r\n", 400, 'DCS.4000', 'Invalid request.' ],
        [ 'HTTP/1.1 without Host', "GET / HTTP/1.1\r\n\r\n", 400, 'DCS.4000', 'Invalid request.' ],
        [ 'bad header line', $get->('/', "Bad Header\r\n"), 400, 'DCS.4000', 'Invalid request.' ],
        [ '10 KB header line (494)', $get->('/', 'X-Big: ' . ('a' x 10240) . "\r\n"), 400, 'DCS.4000', 'Request header too large.' ],
        [ '20 KB URI', $get->('/' . ('a' x 20480)), 414, 'DCS.4000', 'Request URI too large.' ],
        [ 'body over client_max_body_size', "POST /post HTTP/1.1\r\n${h}Content-Length: 5000\r\nConnection: close\r\n\r\n" . ('x' x 5000), 413, 'DCS.4000', 'Request body too large.' ],
        [ 'unknown Transfer-Encoding', "POST /post HTTP/1.1\r\n${h}Transfer-Encoding: gzip\r\nConnection: close\r\n\r\n", 501, 'DCS.4000', 'Unsupported request.' ],
        [ 'HTTP/2.0 request line', "GET / HTTP/2.0\r\n$h\r\n", 505, 'DCS.4000', 'HTTP version not supported.' ],
        [ 'missing file', $get->('/nothing.html'), 404, 'DCS.4001', 'The requested URL does not exist.' ],
        [ 'range past the end (416)', $get->('/file.txt', "Range: bytes=1000-2000\r\n"), 416, 'DCS.4000', 'Range not satisfiable.' ],
        [ 'If-Unmodified-Since in the past (412)', $get->('/file.txt', "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:01 GMT\r\n"), 412, 'DCS.4000', 'Precondition failed.' ],
        [ 'If-Match that does not match (412)', $get->('/file.txt', "If-Match: \"nope\"\r\n"), 412, 'DCS.4000', 'Precondition failed.' ],
        [ 'error locations are internal', $get->('/_hotkey_error/500'), 404, 'DCS.4001', 'The requested URL does not exist.' ],
        [ 'deny', $get->('/deny'), 403, 'DCS.2007', 'Policy does not allow this action to be performed.' ],
        [ 'POST to a static file', "POST /file.txt HTTP/1.1\r\n${h}Content-Length: 0\r\nConnection: close\r\n\r\n", 405, 'DCS.5001', 'This request method is not allowed.' ],
        [ 'dead upstream (502)', $get->('/proxy'), 500, 'DCS.5000', 'Internal service error.' ],
        [ 'return 500', $get->('/fail'), 500, 'DCS.5000', 'Internal service error.' ],
        [ 'limit_req first', $get->('/limited'), 200 ],
        [ 'limit_req second', $get->('/limited'), 429, 'APIGW.0308', 'The throttling threshold has been reached.' ],
    );
    for my $c (@cases) {
        my ($name, $req, $status, $code, $msg) = @$c;
        my ($st, $hd, $body) = raw($port, $req);
        is($st, $status, "$name: status $status");
        next unless $code;
        like($hd->{'content-type'} // '', qr{^application/json\b}, "$name: JSON content type");
        my $j = eval { decode_json($body) };
        is_deeply($j, { error_code => $code, error_msg => $msg, error_ext_msg => undef },
                  "$name: body") or diag($body);
        is($hd->{'retry-after'}, 1, "$name: Retry-After") if $status == 429;
    }

    my ($st, $hd, $body) = raw($port, "HEAD /nothing HTTP/1.1\r\n${h}Connection: close\r\n\r\n");
    is($st, 404, 'HEAD of a missing file: 404');
    like($hd->{'content-type'} // '', qr{^application/json}, 'HEAD: JSON content type');
    is($body, '', 'HEAD: no body');

    my $log = slurp("$prefix/logs/error.log");
    unlike($log, qr/empty URI in redirect|rewrite or internal redirection cycle/,
           'no failed or looping redirects in the error log');
    unlike($log, qr/\[(alert|crit|emerg)\]/, 'no [alert], [crit] or [emerg]');
};

done_testing();
