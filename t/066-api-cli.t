#!/usr/bin/perl
# hotkeyctl api: the request each operation sends, captured by a small
# listener (method, path, headers, body; the AK/SK signature recomputed by
# an independent Perl implementation of api.md section 5, and the
# gateway's own verifier through the list route), token mode, exit codes,
# chunked and 204 answers; then every operation against the real gateway
# and a real redis-server, each answering as the contract says.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use IO::Socket::INET;
use POSIX ();
use Hotkey::Test qw(:all);
use Hotkey::Auth qw(:all);

my $t = Hotkey::Test->new;
my $P = hex32();
my $I = uuid();
my $TID = uuid();
my $AK = 'CTLAPIAK01';
my $SK = 'ctl/api+SK' . hex32();
my $skf = $t->prefix . '/sk';
spew($skf, "$SK\n", 0600);

# serve($reply): a listener for one request; returns (port, $wait) where
# $wait->() gives the raw request it read
sub serve {
    my ($reply) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1, ReuseAddr => 1) or die "listen: $!";
    my $port = $l->sockport;
    my $file = $t->prefix . "/req-$port";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        local $SIG{ALRM} = sub { POSIX::_exit(1) };
        alarm 10;
        my $c = $l->accept or POSIX::_exit(1);
        my $req = '';
        while (1) {
            my $n = sysread($c, my $b, 65536);
            last unless $n;
            $req .= $b;
            if ($req =~ /\r\n\r\n/) {
                my ($h, $body) = split /\r\n\r\n/, $req, 2;
                my ($len) = $h =~ /^content-length:\s*(\d+)/im;
                last if length($body) >= ($len // 0);
            }
        }
        open my $f, '>:raw', $file;
        print $f $req;
        close $f;
        print $c $reply;
        close $c;
        POSIX::_exit(0);
    }
    close $l;
    return ($port, sub { waitpid($pid, 0); slurp($file) });
}

sub parse_req {
    my ($raw) = @_;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($line, @h) = split /\r\n/, $head;
    my ($m, $target) = split / /, $line;
    my ($path, $query) = split /\?/, $target, 2;
    return { method => $m, path => $path, query => $query, body => $body,
             headers => [ map { [ /^([^:]+):\s*(.*)$/ ] } @h ],
             h => { map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () } @h } };
}

my $OK = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
       . "X-Request-Id: r1\r\nConnection: close\r\n\r\n{\"ok\":true}";

# ---- every operation's request, AK/SK
my %want = (
    create         => ['POST', "/v2/$P/instances/$I/hotkey-task", ''],
    show           => ['GET', "/v2/$P/instances/$I/hotkey-task/$TID", ''],
    delete         => ['DELETE', "/v2/$P/instances/$I/hotkey-task/$TID", ''],
    list           => ['GET', "/v2/$P/instances/$I/hotkey-tasks", ''],
    'autoscan-get' => ['GET', "/v2/$P/instances/$I/hotkey/autoscan", ''],
    'autoscan-set' => ['PUT', "/v2/$P/instances/$I/hotkey/autoscan",
                       '{"enable_auto_scan":true,"schedule_at":["21:00","03:30"]}'],
);
for my $op (sort keys %want) {
    my ($port, $wait) = serve($OK);
    my @extra = $op =~ /^(show|delete)$/ ? ('--task', $TID)
              : $op eq 'autoscan-set'   ? ('--enable', 'true', '--at', '21:00,03:30')
              : ();
    my ($rc, $out) = ctl($t, 'api', $op, '--url', "http://127.0.0.1:$port/", '--project', $P,
                         '--instance', $I, '--ak', $AK, '--sk-file', $skf, @extra);
    my $r = parse_req($wait->());
    is($rc, 0, "$op: exit 0 on 200") or diag $out;
    is($out, "HTTP/1.1 200 OK\n{\"ok\":true}\n", "$op: prints the status line and the body");
    my ($m, $path, $body) = @{ $want{$op} };
    is("$r->{method} $r->{path}", "$m $path", "$op: $m $path");
    is($r->{body} // '', $body, "$op: the body");
    is($r->{h}{'content-type'}, 'application/json', "$op: Content-Type application/json, as the SDK");
    is($r->{h}{'x-project-id'}, $P, "$op: X-Project-Id, as the SDK");
    is($r->{h}{host}, "127.0.0.1:$port", "$op: Host");
    is($r->{h}{'content-length'}, length $body, "$op: Content-Length") if $m =~ /^(POST|PUT)$/;
    my ($sh, $sig) = ($r->{h}{authorization} // '')
        =~ /^SDK-HMAC-SHA256 Access=\Q$AK\E, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/;
    is($sh, 'content-type;host;x-project-id;x-sdk-date', "$op: Authorization signs the SDK's headers");
    is($sig, aksk_signature(method => $m, path => $path, query => $r->{query},
                            headers => $r->{headers}, signed => $sh // '', body => $r->{body},
                            date => $r->{h}{'x-sdk-date'}, sk => $SK),
       "$op: the signature verifies (independent implementation)");
}

# list's query, a token, odd ids percent-encoded
{
    my ($port, $wait) = serve($OK);
    my ($rc, $out) = ctl($t, 'api', 'list', '--url', "http://127.0.0.1:$port", '--project', $P,
                         '--instance', 'a b/c', '--token', 'tok.en.x', '--offset', '2',
                         '--limit', '5', '--status', 'waiting');
    my $r = parse_req($wait->());
    is("$r->{method} $r->{path}?$r->{query}",
       "GET /v2/$P/instances/a%20b%2Fc/hotkey-tasks?offset=2&limit=5&status=waiting",
       'list: the query; ids percent-encoded');
    is($r->{h}{'x-auth-token'}, 'tok.en.x', 'token: X-Auth-Token');
    ok(!exists $r->{h}{authorization} && !exists $r->{h}{'x-sdk-date'}, '... no signature');
}
{
    spew($t->prefix . '/tok', "tok-from-file\n");
    my ($port, $wait) = serve("HTTP/1.1 204 No Content\r\nX-Request-Id: r2\r\nConnection: close\r\n\r\n");
    my ($rc, $out) = ctl($t, 'api', 'delete', '--url', "http://127.0.0.1:$port", '--project', $P,
                         '--instance', $I, '--task', $TID, '--token-file', $t->prefix . '/tok', '-i');
    my $r = parse_req($wait->());
    is($r->{h}{'x-auth-token'}, 'tok-from-file', '--token-file: its first line');
    is($rc, 0, '204: exit 0');
    like($out, qr/\AHTTP\/1\.1 204 No Content\nX-Request-Id: r2\n/, '--include prints the header fields');
}
{
    my ($port, $wait) = serve("HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
        . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        . "10\r\n{\"error_code\":\"D\r\n19\r\nCS.4026\",\"error_msg\":\"x\"}\r\n0\r\n\r\n");
    my ($rc, $out) = ctl($t, 'api', 'create', '--url', "http://127.0.0.1:$port", '--project', $P,
                         '--instance', $I, '--ak', $AK, '--sk', $SK);
    $wait->();
    is($rc, 1, 'a 400 answer: exit 1');
    is($out, "HTTP/1.1 400 Bad Request\n{\"error_code\":\"DCS.4026\",\"error_msg\":\"x\"}\n",
       '... a chunked body decoded');
}
my $dead = free_port();
my ($rc, $out) = ctl($t, 'api', 'create', '--url', "http://127.0.0.1:$dead", '--project', $P,
                     '--instance', $I, '--token', 'x');
is($rc, 3, 'no answer (connection refused): exit 3');
like($out, qr/cannot connect to 127\.0\.0\.1:$dead/, '... says so');
for my $bad (
    [ 'show without --task', 'show' ],
    [ 'create with --task', 'create', '--task', $TID ],
    [ 'no credentials', 'list', '--no-creds' ],
    [ 'two credentials', 'list', '--ak', $AK ],
    [ 'autoscan-set without --enable', 'autoscan-set', '--at', '' ],
    [ 'autoscan-set --enable maybe', 'autoscan-set', '--enable', 'maybe', '--at', '' ],
    [ 'https', 'list', '--url', 'https://127.0.0.1:1' ],
    [ 'unknown operation', 'frob' ],
) {
    my ($name, $op, @a) = @$bad;
    my @cred = ('--token', 'x');
    @cred = () if grep { $_ eq '--no-creds' } @a;
    @a = grep { $_ ne '--no-creds' } @a;
    unshift @a, '--sk', $SK if grep { $_ eq '--ak' } @a;
    my @url = grep({ $_ eq '--url' } @a) ? () : ('--url', "http://127.0.0.1:$dead");
    ($rc, $out) = ctl($t, 'api', $op, @url, '--project', $P, '--instance', $I, @cred, @a);
    is($rc, 2, "usage: $name: exit 2") or diag $out;
}
($rc, $out) = ctl($t, 'api', '--help');
is($rc, 0, 'api --help: 0');
like($out, qr/^  $_ /m, "... lists $_") for qw(create show delete list autoscan-get autoscan-set);

# ---- the real gateway
$t->start_redis;
my $creds = $t->prefix . '/conf/credentials';
my $ACTIONS = 'dcs:instance:listHotKey,dcs:instance:analyze,dcs:instance:getHotKeyAutoScanConfig,'
            . 'dcs:instance:updateHotKeyAutoScanConfig';
spew($creds, "$AK $SK projects=$P actions=$ACTIONS name=ctl\n", 0600);
$t->start_nginx(auth_server($t, creds => $creds));
my $base = 'http://127.0.0.1:' . $t->nginx_port;
$t->add_instance($I, project => $P);
my ($done) = $t->add_tasks($I, { status => 'success' });

sub api {
    my ($op, @a) = @_;
    my ($rc, $out) = ctl($t, 'api', $op, '--url', $base, '--project', $P, '--instance', $I,
                         '--ak', $AK, '--sk-file', $skf, @a);
    my ($status, $body) = $out =~ m{\AHTTP/1\.1 (\d{3})[^\n]*\n(.*)\z}s;
    return ($rc, $status // 0, eval { json_decode($body // '') }, $out);
}

my ($j);
($rc, my $st, $j, $out) = api('list');
is($st, 200, 'gateway: list, signed by hotkeyctl api: 200 (the gateway verifies it)') or diag $out;
is($j && $j->{count}, 1, '... the list');
($rc, $st, $j, $out) = api('create');
is($st, 200, 'gateway: create: 200') or diag $out;
my $new = $j && $j->{id} // '';
is($j && $j->{status}, 'waiting', '... a waiting task');
($rc, $st, $j, $out) = api('create');
is($st . ' ' . ($j && $j->{error_code} // ''), '400 DCS.4026', 'gateway: create again: 400 DCS.4026');
is($rc, 1, '... exit 1');
($rc, $st, $j, $out) = api('show', '--task', $new);
is($st . ' ' . ($j && $j->{id} // ''), "200 $new", 'gateway: show the new task') or diag $out;
($rc, $st, $j, $out) = api('delete', '--task', $new);
is($st . ' ' . ($j && $j->{error_code} // ''), '400 DCS.4957', 'gateway: delete it while waiting: DCS.4957');
($rc, $st, $j, $out) = api('delete', '--task', $done->{id});
is($st, 204, 'gateway: delete a finished task: 204') or diag $out;
is($rc, 0, '... exit 0');
($rc, $st, $j, $out) = api('autoscan-set', '--enable', 'true', '--at', '21:00,03:30');
is($st, 200, 'gateway: autoscan-set: 200') or diag $out;
is_deeply($j && $j->{schedule_at}, ['03:30', '21:00'], '... times sorted');
($rc, $st, $j, $out) = api('autoscan-get');
is($st . ' ' . ($j && $j->{enable_auto_scan} ? 'on' : 'off'), '200 on', 'gateway: autoscan-get') or diag $out;
($rc, $st, $j, $out) = api('autoscan-set', '--enable', 'false', '--at', '');
is($st, 200, 'gateway: autoscan-set off with no times: 200') or diag $out;
is_deeply($j && $j->{schedule_at}, [], '... no times');

$t->done;
