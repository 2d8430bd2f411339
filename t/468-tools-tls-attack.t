#!/usr/bin/perl
# Attacks on the tools' TLS connections (tools/hotkey_tls.c: the
# handshake, then a relay thread between a socketpair and the session),
# with the real analyzer and hotkeyctl against real TLS redis-servers
# and proxies in front of them:
#   - the analyzer SIGTERMed in the middle of a paced scan of a TLS
#     target, also while the target is stopped: the task handed back at
#     the head of the queue, exit 0, and taken by the next analyzer;
#     SIGKILLed: the task taken over when its lease lapses, nothing stuck;
#   - the target stopped (SIGSTOP) mid-scan: the task fails on the io
#     timeout with the documented cause, the analyzer goes on;
#   - a byte stream cut in the middle of a reply (the proxy stalls,
#     resets, closes), a close_notify mid-reply, a garbage record after
#     the handshake: failed tasks, in bounded time; a server that
#     renegotiates before every reply (TLS 1.2), also under names of
#     2 MB, and a proxy that moves a few KB at a time both ways under
#     them (both directions of the socketpair full): the true top 100;
#   - descriptors and threads of the analyzer the same after all of it,
#     after its store connections are killed again and again, and after
#     the TLS store is stopped mid-task past its io timeout (the task
#     still succeeds);
#   - hotkeyctl --store-tls against a store that hangs in the handshake
#     or never answers after it, and instance add --tls against a
#     stopped instance: exit 1 within its --timeout, with why.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use IO::Select;
use POSIX ();
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(uuid free_port fork_server);
use Hotkey::Analyzer qw(:all);
use Hotkey::Auth qw(ctl spew);
use Hotkey::TLS;

plan skip_all => 'hotkey-analyzer not built: make analyzer' unless analyzer_bin();
plan skip_all => 'no openssl command' if system('openssl version >/dev/null 2>&1');
my $have_ssl = eval { require IO::Socket::SSL; 1 };
srand(4468);

my $store = Hotkey::Test->new;
my $c = Hotkey::TLS::certs($store->prefix . '/tls');
my $sport = free_port();
$store->start_redis(args => [ Hotkey::TLS::redis_args($c, $sport) ]);
my $S = "127.0.0.1:$sport";
my @client = ('--store-tls-cert', $c->{client_crt}, '--store-tls-key', $c->{client_key});
my @stls = ('--store', $S, '--store-tls', '--store-tls-ca', $c->{ca}, @client);

# the target: LFU with frozen counters, TLS beside its plain port
my $tport = free_port();
my $tgt = target(keys => 20000, args => [ Hotkey::TLS::redis_args($c, $tport) ]);
touch($tgt, 0, "k:$_", 1 + int(rand(40))) for 1 .. 200;
my $NKEYS = 20000;

# moves bytes between a and b; $down->($bytes) is called with what b
# sends (it returns what to pass on, undef to end); at most $chunk
# bytes a read, $pause s after each
sub pump {
    my ($a, $b, $down, $chunk, $pause) = @_;
    my $sel = IO::Select->new($a, $b);
    my $end = time + 40;
    while (time < $end) {
        for my $h ($sel->can_read(0.05)) {
            my $n = sysread($h, my $buf, $chunk // 65536);
            return unless $n;
            if ($h == $a) {
                syswrite($b, $buf) // return;
            } else {
                my $out = $down->($buf);
                return unless defined $out;
                syswrite($a, $out) // return if length $out;
            }
            sleep $pause if $pause;
        }
    }
}

# a TCP proxy to a port: after $cut bytes from the server, it stalls
# (the connection stays open), resets or closes
sub cut_proxy {
    my ($port, $cut, $how) = @_;
    return fork_server(sub {
        my ($a) = @_;
        my $b = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port) or return;
        my $seen = 0;
        pump($a, $b, sub {
            my ($buf) = @_;
                    return $buf if ($seen += length $buf) <= $cut;
            syswrite($a, substr($buf, 0, length($buf) - ($seen - $cut)));
            if ($how eq 'stall') {
                sleep 40;
            } elsif ($how eq 'reset') {
                setsockopt($a, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
            }
            return undef;
        });
    });
}

# a TCP proxy that moves $chunk bytes at a time, $pause s apart, both ways
sub slow_proxy {
    my ($port, $chunk, $pause) = @_;
    return fork_server(sub {
        my ($a) = @_;
        my $b = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port) or return;
        pump($a, $b, sub { $_[0] }, $chunk, $pause);
    });
}

# a TLS server relaying to a plain port, with a twist per mode: notify
# (a close_notify after $cut bytes, mid-reply, the TCP connection left
# open), junk (a garbage record after $cut bytes), stall (silence after
# $cut bytes)
sub tls_proxy {
    my ($port, $mode, $cut) = @_;
    return fork_server(sub {
        my ($a) = @_;
        my $s = IO::Socket::SSL->start_SSL($a,
            SSL_server      => 1,
            SSL_cert_file   => $c->{server_crt},
            SSL_key_file    => $c->{server_key},
            SSL_verify_mode => 0,
        ) or return;
        my $b = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port) or return;
        my ($seen, $end) = (0, time + 40);
        while (time < $end) {
            if ($s->pending || IO::Select->new($s)->can_read(0.01)) {
                my $n = sysread($s, my $buf, 65536);
                return unless $n;
                syswrite($b, $buf) // return;
            }
            next unless IO::Select->new($b)->can_read(0.01);
            my $n = sysread($b, my $buf, 16384);
            return unless $n;
            if (($seen += $n) > $cut) {
                print $s substr($buf, 0, $n - ($seen - $cut));
                if ($mode eq 'notify') {
                    Net::SSLeay::shutdown($s->_get_ssl_object);
                } elsif ($mode eq 'junk') {
                    open my $raw, '>&=', fileno($a) or return;
                    syswrite($raw, "\x17\x03\x03\x00\x20" . ("\xee" x 32));
                }
                sleep 40;
                return;
            }
            print $s $buf or return;
        }
    });
}

# a TLS 1.2 server relaying to a plain port that renegotiates before
# each $chunk bytes it sends (every reply, when they are short), once the
# last renegotiation is done; it reads the client $slow bytes a
# millisecond, when given, so that renegotiations come while the client
# is still writing; non-blocking
# (a blocking read would wait past a handshake for data the client does
# not send)
sub reneg_proxy {
    my ($port, $chunk, $slow) = @_;
    return fork_server(sub {
        my ($a) = @_;
        my $s = IO::Socket::SSL->start_SSL($a,
            SSL_server      => 1,
            SSL_cert_file   => $c->{server_crt},
            SSL_key_file    => $c->{server_key},
            SSL_verify_mode => 0,
            SSL_version     => 'TLSv1_2',
        ) or return;
        my $b = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port) or return;
        my $ssl = $s->_get_ssl_object;
        my ($hello, $done, $want) = (0, 0, 0);
        Net::SSLeay::set_info_callback($ssl, sub {    # a ClientHello, then done
            $hello = 1 if Net::SSLeay::state_string($_[0]) eq 'TRCH';
            $done++, $hello = 0
                if $hello && $_[1] & Net::SSLeay::CB_HANDSHAKE_DONE();
        });
        $s->blocking(0);
        my ($out, $end) = ('', time + 40);
        while (time < $end) {
            my $n = sysread($s, my $buf, $slow // 65536);
            return if defined $n ? $n == 0 : !$!{EAGAIN};
            syswrite($b, $buf) // return if $n;
            sleep 0.001 if $n && $slow;
            if ($out eq '' && $done >= $want
                && IO::Select->new($b)->can_read($n ? 0 : 0.002))
            {
                sysread($b, $out, $chunk) or return;
                Net::SSLeay::renegotiate($ssl);
                $want = $done + 1;
            }
            my $w = $out eq '' ? 0 : syswrite($s, $out);
            return if !defined $w && !$!{EAGAIN};
            substr($out, 0, $w, '') if $w;
            sleep 0.001 unless $w || $n;
        }
    });
}

# the analyzer's open descriptors and threads
sub held {
    my ($a) = @_;
    my @n;
    for my $dir (qw(fd task)) {
        opendir(my $d, "/proc/$a->{pid}/$dir") or return;
        push @n, scalar grep { !/^\./ } readdir $d;
    }
    return "@n";
}

# an instance of the target at an address (a proxy's), over TLS
my $creds = $store->prefix . '/credentials';
my $line = "tls-ca=$c->{ca} tls-cert=$c->{client_crt} tls-key=$c->{client_key}";
my %inst;
sub instance {
    my ($name, $port) = @_;
    my $iid = uuid();
    register($store, $iid, $port);
    $store->redis('HSET', "hotkey:{$iid}:instance", 'tls', 1);
    $inst{$name} = { iid => $iid, port => $port };
    spew($creds, join('', map { "$inst{$_}{iid} $line\n" } sort keys %inst), 0600);
    return $iid;
}

sub log_of {
    my ($a, $tid) = @_;
    my ($l) = analyzer_log($a) =~ /^(.* task \Q$tid\E instance .* result=.*)$/m;
    return $l // '';
}

my @paced = ('--cpu-share', '0.05', '--scan-count', '100');
my @common = (@stls, '--credentials', $creds, '--lease-ms', '2000', '--renew-ms', '500',
              '--connect-timeout-ms', '1500', '--io-timeout-ms', '1500');
my $I = instance(direct => $tport);

# ------------------------------------------------------------ SIGTERM

my $a = start_analyzer($store, name => 'term', args => [ @common, @paced ]);
like(analyzer_log($a), qr/started: store \Q$S\E \(TLS\)/, 'the analyzers use the store over TLS');
my $tid = create_task($store, $I);
my $task = wait_task($store, $I, $tid, qr/^running$/, 10);
is($task->{status}, 'running', 'a paced task of a TLS target: running');
sleep 1;
my $t0 = time;
stop_analyzer($a, 'TERM');
my $dt = time - $t0;
is($a->{status}, 0, 'SIGTERM mid-scan: exit 0');
cmp_ok($dt, '<', 3, sprintf('... at once (%.1f s)', $dt));
my $l = log_of($a, $tid);
like($l, qr/result=handed_back /, '... the task handed back') or diag analyzer_log($a);
my ($n) = $l =~ /keys_scanned=(\d+)/;
ok($n && $n < $NKEYS, "... in the middle of the scan ($n of $NKEYS keys)");
$task = task($store, $I, $tid);
is($task->{status}, 'waiting', '... waiting again');
is($store->redis('LINDEX', "hotkey:{$I}:queue", 0), $tid, '... at the head of the queue');

my $snap = snapshot([ $tgt, shard => "127.0.0.1:$tport" ]);
$a = start_analyzer($store, name => 'after-term', args => [ @common, '--no-pacing' ]);
$task = wait_task($store, $I, $tid, qr/^(success|failed)$/, 20);
is($task->{status}, 'success', 'the next analyzer takes it: success')
    or diag analyzer_log($a);
is_deeply(task_keys($store, $I, $tid), truth($snap), '... the true top 100');
stop_analyzer($a);

# ------------------------------------------------------------ SIGKILL

$a = start_analyzer($store, name => 'kill', args => [ @common, @paced ]);
$tid = create_task($store, $I);
$task = wait_task($store, $I, $tid, qr/^running$/, 10);
sleep 1;
stop_analyzer($a, 'KILL');
$task = task($store, $I, $tid);
is($task->{status}, 'running', 'SIGKILL mid-scan: the task is left running (its lease)');
$snap = snapshot([ $tgt, shard => "127.0.0.1:$tport" ]);
$t0 = time;
$a = start_analyzer($store, name => 'after-kill', args => [ @common, '--no-pacing' ]);
$task = wait_task($store, $I, $tid, qr/^(success|failed)$/, 20);
$dt = time - $t0;
is($task->{status}, 'success', 'a new analyzer takes it over: success')
    or diag analyzer_log($a);
cmp_ok($dt, '<', 10, sprintf('... once the lease lapsed (%.1f s)', $dt));
like(log_of($a, $tid), qr/attempt=2 result=success/, '... its second attempt');
is_deeply(task_keys($store, $I, $tid), truth($snap), '... the true top 100');
my $held = held($a);
ok($held, "the analyzer's descriptors and threads counted ($held)");

# ------------------------------------------------------------ stalls

sub run_task {
    my ($iid, $timeout) = @_;
    my $tid = create_task($store, $iid);
    my $t0 = time;
    my $task = wait_task($store, $iid, $tid, qr/^(success|failed)$/, $timeout // 20);
    return ($tid, $task, time - $t0);
}

stop_analyzer($a);
$a = start_analyzer($store, name => 'stall', args => [ @common, @paced ]);
$tid = create_task($store, $I);
wait_task($store, $I, $tid, qr/^running$/, 10);
sleep 1;
kill 'STOP', $tgt->{redis_pid};
$t0 = time;
$task = wait_task($store, $I, $tid, qr/^(success|failed)$/, 15);
$dt = time - $t0;
kill 'CONT', $tgt->{redis_pid};
is($task->{status}, 'failed', 'the target stopped mid-scan: failed');
cmp_ok($dt, '<', 4, sprintf('... on the io timeout (%.1f s)', $dt));
like(log_of($a, $tid), qr/cause="127\.0\.0\.1:$tport: [A-Z][A-Z ]*: timeout"/,
     '... the cause: which reply timed out') or diag analyzer_log($a);
ok(kill(0, $a->{pid}), '... the analyzer runs on');

# SIGTERM while the target is stopped: the analyzer is waiting on a
# reply, the task is still in progress
$tid = create_task($store, $I);
wait_task($store, $I, $tid, qr/^running$/, 10);
sleep 1;
kill 'STOP', $tgt->{redis_pid};
sleep 0.3;
$t0 = time;
stop_analyzer($a, 'TERM');
$dt = time - $t0;
kill 'CONT', $tgt->{redis_pid};
is($a->{status}, 0, 'SIGTERM while the target is stopped mid-scan: exit 0');
cmp_ok($dt, '<', 3, sprintf('... within the io timeout (%.1f s)', $dt));
like(log_of($a, $tid), qr/result=handed_back /, '... the task handed back')
    or diag log_of($a, $tid);
$task = task($store, $I, $tid);
is($task->{status}, 'waiting', '... waiting again');
is($store->redis('LINDEX', "hotkey:{$I}:queue", 0), $tid, '... at the head of the queue');

# the same SIGTERM sent to the metrics thread's id (the kernel gives a
# signal to the thread it names when that thread does not block it): the
# stop must still reach the main thread's read
{
    my $m = start_analyzer($store, name => 'metrics-term',
                           args => [ @common, @paced,
                                     '--io-timeout-ms', '5000' ]);
    # it takes the task handed back above
    is((wait_task($store, $I, $tid, qr/^running$/, 10) || {})->{status},
       'running', 'the task handed back is taken again');
    sleep 1;
    my ($mt) = grep { thread_name($m->{pid}, $_) eq 'hka-metrics' }
               map { m{/(\d+)$} ? $1 : () } glob("/proc/$m->{pid}/task/*");
    ok($mt, 'the metrics thread is named hka-metrics');
    kill 'STOP', $tgt->{redis_pid};
    sleep 0.3;
    $t0 = time;
    kill 'TERM', $mt if $mt;
    my $end = time + 10;
    sleep 0.05 while waitpid($m->{pid}, POSIX::WNOHANG()) != $m->{pid}
                     && time < $end;
    $dt = time - $t0;
    kill 'CONT', $tgt->{redis_pid};
    stop_analyzer($m, 'KILL') if kill 0, $m->{pid};
    cmp_ok($dt, '<', 2, sprintf('SIGTERM to the metrics thread mid-scan: '
                                . 'the analyzer stops in %.1f s (the io '
                                . 'timeout is 5 s)', $dt));
    like(log_of($m, $tid), qr/result=handed_back /, '... the task handed back')
        or diag log_of($m, $tid);
}

$a = start_analyzer($store, name => 'proxies', args => [ @common, '--no-pacing' ]);
$snap = snapshot([ $tgt, shard => "127.0.0.1:$tport" ]);
(undef, $task) = run_task($I);
is($task->{status}, 'success', 'the target back: the next task succeeds');

my $CUT = 100_000;
for my $case ([ stall => 'stalls', qr/: timeout"/ ],
              [ reset => 'resets the connection', qr/: connection closed"/ ],
              [ close => 'closes the connection', qr/: connection closed"/ ]) {
    my ($how, $what, $cause) = @$case;
    my $iid = instance("cut-$how", cut_proxy($tport, $CUT, $how));
    ($tid, $task, $dt) = run_task($iid);
    is($task->{status}, 'failed', "a proxy that $what mid-reply: failed");
    cmp_ok($dt, '<', 4, sprintf('... in %.1f s', $dt));
    like(log_of($a, $tid), $cause, '... ' . $cause) or diag log_of($a, $tid);
}

SKIP: {
    skip 'no IO::Socket::SSL', 11 unless $have_ssl;
    for my $case ([ notify => $CUT, 'a close_notify mid-reply', qr/: connection closed"/ ],
                  [ junk => $CUT, 'a garbage record mid-reply', qr/: connection closed"/ ],
                  [ junk => 0, 'a garbage record for an answer to PING',
                    qr/cannot connect: TLS handshake: [^"]+"/ ]) {
        my ($mode, $cut, $what, $cause) = @$case;
        my $iid = instance("tls-$mode-$cut", tls_proxy($tgt->redis_port, $mode, $cut));
        ($tid, $task, $dt) = run_task($iid);
        is($task->{status}, 'failed', "$what: failed");
        cmp_ok($dt, '<', 4, sprintf('... in %.1f s', $dt));
        like(log_of($a, $tid), $cause, '... ' . $cause) or diag log_of($a, $tid);
    }
    my $p = reneg_proxy($tgt->redis_port, 16384);
    my $iid = instance(reneg => $p);
    $snap = snapshot([ $tgt, shard => "127.0.0.1:$p" ]);
    ($tid, $task, $dt) = run_task($iid, 40);
    is($task->{status}, 'success', 'a server renegotiating before every reply: success')
        or diag log_of($a, $tid);
    is_deeply(task_keys($store, $iid, $tid), truth($snap), '... the true top 100');
}

# ------------------------------------------------------------ huge, slow

# names of 2 MB: SCAN replies of megabytes down and OBJECT FREQ commands
# of megabytes up, through a proxy that moves 8 KB at a time, and through
# a server that renegotiates while the client is still writing: the
# relay's buffers and the socketpair full both ways
my $bport = free_port();
my $big = target(keys => 300, args => [ Hotkey::TLS::redis_args($c, $bport) ]);
for my $i (1 .. 3) {
    my $name = "big$i:" . ('n' x (2 * 1024 * 1024));
    $big->redis('SET', $name, 'v');
    touch($big, 0, $name, 50 + $i);
}
touch($big, 0, "k:$_", 1 + int(rand(40))) for 1 .. 150;
my $sp = slow_proxy($bport, 8192, 0.001);
my $BI = instance(big => $sp);
$snap = snapshot([ $big, shard => "127.0.0.1:$sp" ]);
($tid, $task, $dt) = run_task($BI, 40);
is($task->{status}, 'success', sprintf('names of 2 MB through a slow proxy: success (%.1f s)', $dt))
    or diag log_of($a, $tid);
my $keys = task_keys($store, $BI, $tid);
is_deeply($keys, truth($snap), '... the true top 100, the long names cut');
is(scalar(grep { /\|big\d:n+$/ } @$keys), 3, '... the three long names among them');

SKIP: {
    skip 'no IO::Socket::SSL', 2 unless $have_ssl;
    my $p = reneg_proxy($big->redis_port, 262144, 16384);
    my $iid = instance('big-reneg' => $p);
    $snap = snapshot([ $big, shard => "127.0.0.1:$p" ]);
    ($tid, $task, $dt) = run_task($iid, 40);
    is($task->{status}, 'success', sprintf('names of 2 MB, a renegotiation before every reply or 256 KB: success (%.1f s)', $dt))
        or diag log_of($a, $tid);
    is_deeply(task_keys($store, $iid, $tid), truth($snap), '... the true top 100');
}

# ------------------------------------------------------------ leaks

# every task above through this analyzer: its descriptors and threads are
# what they were after its first task
is(held($a), $held, 'after failed and successful tasks through hostile '
                    . 'peers: the same descriptors and threads');
for (1 .. 5) {
    $store->redis('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    (undef, $task) = run_task($I);
    is($task->{status}, 'success', "the store's connections killed ($_): the next task succeeds");
}
is(held($a), $held, '... the same descriptors and threads');
stop_analyzer($a);
is($a->{status}, 0, 'SIGTERM: exit 0');

# the store stopped mid-task for longer than its io timeout (5 s): the
# analyzer's TLS connections to it time out, its handshakes to it too,
# the scan goes on and its result waits for the store
$a = start_analyzer($store, name => 'store-stall', args => [ @common, @paced ]);
sleep 1;
my $idle = held($a);
$tid = create_task($store, $I);
wait_task($store, $I, $tid, qr/^running$/, 10);
kill 'STOP', $store->{redis_pid};
sleep 6.5;
kill 'CONT', $store->{redis_pid};
$task = wait_task($store, $I, $tid, qr/^(success|failed)$/, 30);
is($task->{status}, 'success', 'the store stopped for 6.5 s mid-task: success')
    or diag analyzer_log($a);
like(analyzer_log($a), qr/task store .*retrying/, '... the store was lost meanwhile');
wait_until(3, sub { held($a) eq $idle });
is(held($a), $idle, '... idle again: the same descriptors and threads');
stop_analyzer($a);

# ------------------------------------------------------------ hotkeyctl

sub ctl_list {
    my ($port, $timeout) = @_;
    my $t0 = time;
    my ($rc, $out) = ctl($store, 'instance', 'list', '--store', "127.0.0.1:$port",
                         '--store-tls', '--store-tls-ca', $c->{ca}, @client,
                         '--timeout', $timeout);
    return ($rc, $out, time - $t0);
}

my ($rc, $out) = ctl_list($sport, 2);
is($rc, 0, 'hotkeyctl over TLS: 0') or diag $out;
for my $case (
    [ 'a store stopped (SIGSTOP): no ServerHello', $sport, 1,
      qr/TLS handshake timed out \(is it a TLS port\?\)/ ],
    [ 'a store whose first flight is cut', cut_proxy($sport, 200, 'stall'), 0,
      qr/TLS handshake timed out \(is it a TLS port\?\)/ ],
    ($have_ssl ? (
    [ 'a store that never answers PING after the handshake',
      tls_proxy($store->redis_port, 'stall', 0), 0,
      qr/TLS: no answer to PING after the handshake \(timed out\)/ ],
    [ 'a store that stops after its PONG', tls_proxy($store->redis_port, 'stall', 7), 0,
      qr/: timed out$/m ]) : ()),
) {
    my ($what, $port, $stop, $why) = @$case;
    kill 'STOP', $store->{redis_pid} if $stop;
    my ($rc, $out, $dt) = ctl_list($port, 1);
    kill 'CONT', $store->{redis_pid} if $stop;
    is($rc, 1, "hotkeyctl --store-tls, $what: exit 1");
    cmp_ok($dt, '<', 2.5, sprintf('... within its --timeout 1 (%.1f s)', $dt));
    like($out, qr/cannot connect to the store at 127\.0\.0\.1:$port: .*$why/,
         '... says why') or diag $out;
}

# the instance's own TLS connection (add reads its policy) to a stopped
# target
kill 'STOP', $tgt->{redis_pid};
$t0 = time;
($rc, $out) = ctl($store, 'instance', 'add', @stls, '--project', uuid(),
                  '--instance', uuid(), '--addr', "127.0.0.1:$tport", '--tls',
                  '--tls-ca', $c->{ca}, '--tls-cert', $c->{client_crt},
                  '--tls-key', $c->{client_key}, '--timeout', 1);
$dt = time - $t0;
kill 'CONT', $tgt->{redis_pid};
is($rc, 1, 'hotkeyctl instance add --tls, the instance stopped: exit 1');
cmp_ok($dt, '<', 2.5, sprintf('... within its --timeout 1 (%.1f s)', $dt));
like($out, qr/cannot connect to the instance at 127\.0\.0\.1:$tport: TLS handshake timed out/,
     '... says why') or diag $out;

$store->done;

sub thread_name {
    my ($pid, $tid) = @_;
    open my $fh, '<', "/proc/$pid/task/$tid/comm" or return '';
    my $n = <$fh> // '';
    chomp $n;
    return $n;
}
