#!/usr/bin/perl
# Attacks on TLS to the store (hotkey_store_tls): a server that answers
# in plain text before the handshake (the slot map and the subscription
# must not take it: only the handshake reads those bytes), names that
# cannot be sent, servers that drip the handshake, send garbage records
# or a huge reply over TLS, renegotiate before every reply, never answer
# while clients give up, a store restarted with another CA's
# certificate, and reloads that add and remove TLS under traffic.  Every
# answer is JSON, no worker spins, crashes or keeps connections.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use POSIX ();
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Attack qw(idle_check wait_workers);
use Hotkey::TLS;

my $have_ssl = eval { require IO::Socket::SSL; 1 };

my $t = Hotkey::Test->new(workers => 1);
my $c = Hotkey::TLS::certs($t->prefix . '/tls');
my $tp = $t->port('tls');
$t->start_redis(args => [ Hotkey::TLS::redis_args($c, $tp) ]);
my $rp = $t->redis_port;

# plain text at once, then silence (the handshake, if any, never ends)
sub plain_first {
    my ($bytes) = @_;
    return fork_server(sub {
        syswrite($_[0], $bytes);
        sleep 30;
    });
}

# a TCP relay to the TLS port that drips the server's bytes
sub drip {
    return fork_server(sub {
        my ($a) = @_;
        my $b = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $tp) or return;
        my $sel = IO::Select->new($a, $b);
        my $end = time + 20;
        while (time < $end) {
            for my $h ($sel->can_read(0.05)) {
                my $n = sysread($h, my $buf, 65536) or return;
                if ($h == $a) {
                    syswrite($b, $buf);
                } else {
                    for my $i (0 .. length($buf) - 1) {
                        syswrite($a, substr($buf, $i, 1)) or return;
                        sleep 0.02;
                    }
                }
            }
        }
    });
}

# a TLS server relaying to the plain port, with a twist per mode
sub tls_relay {
    my ($mode) = @_;
    return fork_server(sub {
        my ($a) = @_;
        my $s = IO::Socket::SSL->start_SSL($a,
            SSL_server      => 1,
            SSL_cert_file   => $c->{server_crt},
            SSL_key_file    => $c->{server_key},
            SSL_verify_mode => 0,
            ($mode eq 'reneg' ? (SSL_version => 'TLSv1_2') : ()),
        ) or return;
        my $b = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $rp) or return;
        my $end = time + 20;
        while (time < $end) {
            my $n;
            if ($s->pending || IO::Select->new($s)->can_read(0.02)) {
                $n = sysread($s, my $buf, 65536);
                return unless $n;
                if ($mode eq 'junk') {
                    open my $raw, '>&=', fileno($a) or return;
                    syswrite($raw, "\x17\x03\x03\x00\x20" . ("\xee" x 32));
                    sleep 5;
                    return;
                }
                if ($mode eq 'huge') {
                    my $big = 'x' x (5 * 1024 * 1024);
                    print $s '$' . length($big) . "\r\n$big\r\n";
                    next;
                }
                syswrite($b, $buf);
            }
            if (IO::Select->new($b)->can_read(0.02)) {
                $n = sysread($b, my $buf, 65536);
                return unless $n;
                if ($mode eq 'reneg') {
                    Net::SSLeay::renegotiate($s->_get_ssl_object);
                }
                print $s $buf;
            }
        }
    });
}

my $pid = uuid();
my $iid = uuid();
my $iid2 = uuid();
$t->add_instance($_, project => $pid) for $iid, $iid2;
my @tasks = $t->add_tasks($iid, map { { status => 'success' } } 1 .. 3);

my $good = "trusted=$c->{ca} name=redis.test certificate=$c->{client_crt} "
         . "key=$c->{client_key}";

# ---------------------------------------------------------------- nginx -t

{
    my $long = join('.', ('a' x 60) x 5) . '.test';
    my ($rc, $out) = $t->nginx_t("    upstream x {\n"
        . "        hotkey_store_tls trusted=$c->{ca} name=$long;\n"
        . "        server 127.0.0.1:$tp;\n    }\n"
        . $t->api_server(store => 'x'));
    isnt($rc, 0, 'nginx -t refuses a name too long to be sent as SNI '
                 . '(' . length($long) . ' bytes)');
    like($out, qr/the name is longer than 255 bytes/, '... and says why');

    my $p = $t->prefix;
    open my $fh, '>', "$p/no-certs.pem" or die;
    print $fh "nothing here\n";
    close $fh;
    for my $bad (
        [ 'a trusted= file without certificates', "trusted=$p/no-certs.pem",
          qr/cannot load the trusted certificates/ ],
        [ 'a trusted= file that is a key', "trusted=$c->{client_key}",
          qr/cannot load the trusted certificates/ ],
        [ 'a key that is not the certificate\'s',
          "certificate=$c->{client_crt} key=$c->{server_key}",
          qr/key values mismatch/ ],
        [ 'an address in brackets', 'name=[::1]', qr/invalid name/ ],
        [ 'a name with a port', 'name=redis.test:6380', qr/invalid name/ ],
    ) {
        ($rc, $out) = $t->nginx_t("    upstream x {\n"
            . "        hotkey_store_tls $bad->[1];\n"
            . "        server 127.0.0.1:$tp;\n    }\n"
            . $t->api_server(store => 'x'));
        isnt($rc, 0, "nginx -t refuses $bad->[0]");
        like($out, $bad->[2], "... and says why ($bad->[0])");
    }
}

# ---------------------------------------------------------------- servers

my $map = "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n\$9\r\n127.0.0.1\r\n:$tp\r\n";
my $cp = plain_first($map);
my $sp = plain_first("*3\r\n\$9\r\nsubscribe\r\n\$14\r\nhotkey:changes\r\n"
                     . ":1\r\n*3\r\n\$7\r\nmessage\r\n\$14\r\n"
                     . "hotkey:changes\r\n\$36\r\n$iid\r\n");
my $mute = plain_first('');
my %port = (real => $tp, drip => drip(), mute => $mute);
if ($have_ssl) {
    $port{$_} = tls_relay($_) for qw(junk huge reneg);
}

sub http_conf {
    my (%o) = @_;
    my $http = "    hotkey_cache_zone z:1m;\n"
             . "    upstream cl {\n        hotkey_store_cluster refresh=1s;\n"
             . "        hotkey_store_tls $good;\n"
             . "        server 127.0.0.1:$cp;\n    }\n"
             . "    upstream evs {\n        hotkey_store_tls $good;\n"
             . "        server 127.0.0.1:$sp;\n    }\n";
    my $locs = '';
    for my $k (sort(keys %port), 'cl', 'evs') {

        # /k/ asks the store, /c-k/ (a cached location) makes the worker
        # subscribe to it
        for my $cached ($k eq 'cl' ? (0) : (0, 1)) {
        my $loc = $cached ? "c-$k" : $k;
        my $cache = $cached ? 'hotkey_cache z; hotkey_cache_valid 60s;' : '';
        if (!$cached && $k ne 'cl' && $k ne 'evs') {
            my ($tls, $p) = ("hotkey_store_tls $good;", $port{$k});
            ($tls, $p) = ('', $rp) if $k eq 'real' && $o{plain};
            $http .= "    upstream $k {\n        $tls\n"
                   . "        server 127.0.0.1:$p;\n        keepalive 8;\n"
                   . "    }\n";
        }
        $locs .= "        location /$loc/ {\n"
               . "            rewrite ^/$loc(/.*)\$ \$1 break;\n"
               . "            hotkey_api on;\n            hotkey_auth off;\n"
               . "            hotkey_store $k;\n"
               . "            hotkey_store_connect_timeout 1s;\n"
               . "            hotkey_store_read_timeout 2s;\n"
               . "            $cache\n        }\n";
        }
    }
    $locs .= "        location /u/ {\n"
           . "            rewrite ^/u(/.*)\$ \$1 break;\n"
           . "            hotkey_api on;\n            hotkey_auth off;\n"
           . "            hotkey_store real;\n        }\n";
    return $http . "    server {\n        listen 127.0.0.1:"
         . $t->nginx_port . ";\n$locs    }\n";
}

$t->start_nginx(http_conf());
$t->allow_log(qr/SSL|certificate|handshak|upstream|hotkey/);

my $list = $t->list_path($pid, $iid, '');
my $want = expected_list($iid, \@tasks);
is_json_ok($t->get("/real$list"), $want, 'the list over TLS');

# ---------------------------------------------------------------- plain text

# A server that writes first, in plain text, before the worker even
# starts the handshake (its bytes read along with the connect's
# completion): a slot map naming the real store, a subscription with a
# message for $iid.  strace delays the worker's epoll_wait() so that the
# bytes are there when the connection is found writable.

SKIP: {
    my $path = '/c-real' . $t->list_path($pid, $iid, 'limit=1');
    my $n0 = $t->get($path)->{json}{count};
    push @tasks, $t->add_task($iid, status => 'success');  # no PUBLISH
    $want = expected_list($iid, \@tasks);

    my $w = (wait_workers($t))[0];
    my $out = $t->prefix . '/strace.out';
    my $st = system('strace -V >/dev/null 2>&1') == 0 ? fork // die : undef;
    if (defined $st && $st == 0) {
        open STDERR, '>', '/dev/null';
        exec('strace', '-qq', '-o', $out, '-p', $w,
             '-e', 'trace=epoll_wait,connect',
             '-e', 'inject=epoll_wait:delay_enter=30000')
            or POSIX::_exit(1);
    }
    my $end = time + 3;
    sleep 0.05 while defined $st && !-s $out && time < $end;
    if (!defined $st || !-s $out) {
        kill 'KILL', $st if $st;
        skip 'no strace, or no ptrace of the worker', 3;
    }

    # the subscription (after its backoff) and the slot map (every
    # second) connect to the plain-text servers under the delay
    $end = time + 8;
    while (time < $end) {
        my $s = Hotkey::Test::_slurp($out);
        my $sub = () = $s =~ /htons\($sp\)/g;
        my $map = () = $s =~ /htons\($cp\)/g;
        last if $sub >= 1 && $map >= 2;
        sleep 0.1;
    }
    sleep 0.3;

    my %st;
    $st{ $t->get("/cl$list")->{status} }++ for 1 .. 3;
    is_deeply(\%st, { 500 => 3 }, 'a slot map sent in plain text before '
              . 'the handshake is not taken (the store is not reached '
              . 'through it)');
    kill 'INT', $st;
    waitpid($st, 0);
    is($t->get($path)->{json}{count}, $n0, 'a message sent in plain text '
       . 'before the handshake drops no cached answer');
    unlike($t->log_text, qr/slot map from 127\.0\.0\.1:$tp/,
           'the node that plain map named was never asked');
}

# ---------------------------------------------------------------- servers

for my $case (
    [ 'drip', 'a handshake dripped a byte every 20 ms', 3 ],
    [ 'mute', 'a server that never answers the ClientHello', 3 ],
    ($have_ssl ? (
    [ 'junk', 'a garbage record after the handshake', 3 ],
    [ 'huge', 'a 5 MB reply over TLS', 4 ]) : ()),
) {
    my ($k, $what, $max) = @$case;
    my $t0 = time;
    my $r = $t->get("/$k$list");
    my $dt = time - $t0;
    is_json_error($r, 500, 'DCS.5000', qr/./, "$what: 500 DCS.5000");
    cmp_ok($dt, '<', $max, sprintf('... within the timeouts (%.1f s)', $dt));
}

SKIP: {
    skip 'no IO::Socket::SSL', 2 unless $have_ssl;
    my $ok = 0;
    for (1 .. 5) {
        my $r = $t->request('GET', "/reneg$list", [ Connection => 'close' ]);
        $ok++ if $r->{status} == 200 && $r->{json};
    }
    is($ok, 5, 'a store renegotiating before every reply (TLS 1.2): '
               . 'answered');
    is_json_ok($t->get("/reneg$list"), $want, '... the list itself');
}

# ---------------------------------------------------------------- aborts

sub fds { my @f = glob("/proc/$_[0]/fd/*"); scalar @f }

{
    my $w = (wait_workers($t))[0];
    my $before = fds($w);
    my @socks;
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $t->nginx_port) or next;
        print $s "GET /mute$list HTTP/1.1\r\nHost: x\r\n\r\n";
        push @socks, $s;
    }
    sleep 0.3;
    close $_ for @socks;
    my $end = time + 5;
    my $after;
    while (time < $end) {
        $after = fds($w);
        last if $after <= $before;
        sleep 0.1;
    }
    cmp_ok($after, '<=', $before, "100 clients gone during the handshake: "
                                  . "the worker's fds back to $after");
    idle_check($t, '... and the worker idle');
}

# ---------------------------------------------------------------- other CA

{
    is($t->get("/u$list")->{status}, 200, 'a kept TLS connection');
    $t->restart_redis(args => [ Hotkey::TLS::redis_args($c, $tp,
                                                        other => 1) ]);
    my $m = $t->log_mark;
    my %st;
    $st{ $t->get("/u$list")->{status} }++ for 1 .. 5;
    is_deeply(\%st, { 500 => 5 }, 'the store back with a certificate of '
              . 'another CA: refused');
    like($t->log_since($m), qr/certificate verify failed/, '... by the check');
    $t->restart_redis(args => [ Hotkey::TLS::redis_args($c, $tp) ]);
    is_json_ok($t->get("/u$list"), $want, 'its own certificate again: 200');
}

# ---------------------------------------------------------------- reload

{
    my $res = $t->prefix . '/reload.out';
    my $kid = fork // die;
    if ($kid == 0) {
        my %st;
        my $end = time + 4;
        while (time < $end) {
            my $r = $t->get("/u$list");
            my $k = $r->{json} ? $r->{status} : "$r->{status}-nojson";
            $st{$k}++;
        }
        open my $fh, '>', $res or die;
        print $fh join(' ', map { "$_=$st{$_}" } sort keys %st), "\n";
        close $fh;
        POSIX::_exit(0);
    }
    my @rc;
    for my $plain (1, 0, 1, 0) {
        sleep 0.5;
        push @rc, ($t->reload(http_conf(plain => $plain)))[0];
    }
    waitpid($kid, 0);
    is_deeply(\@rc, [0, 0, 0, 0], 'four reloads, TLS off and on');
    open my $fh, '<', $res or die;
    my $got = <$fh> // '';
    chomp $got;
    like($got, qr/^200=\d+$/, "traffic throughout answered 200 ($got)");
    unlike($t->log_text, qr/exited on signal/, 'no worker crashed');
    is_json_ok($t->get("/real$list"), $want, 'TLS after the reloads');
}

idle_check($t, 'the worker idle at the end');

stop_servers();
$t->done;
