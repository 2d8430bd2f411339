#!/usr/bin/perl
# TLS to Redis from the tools (tools/hotkey_tls.c), against real
# redis-servers serving TLS (certificates from Hotkey::TLS; clients must
# show a certificate, Redis's default tls-auth-clients yes):
#   - hotkeyctl instance add/list/remove with a store reached over TLS
#     only, the instance's policy read over TLS too (--tls-*), and with a
#     password; refused with a clear error: a CA that did not sign the
#     store's certificate, no client certificate, a name (or IP) the
#     certificate does not hold, a plain port, unreadable files; usage
#     errors for --store-tls-* without --store-tls and a certificate
#     without its key; --store-tls-no-verify connects to any store;
#   - the analyzer with a TLS store and TLS targets (material in its
#     credentials file): the true top 100 by OBJECT FREQ (counters
#     frozen, as t/400); a target whose CA is wrong fails its task with
#     the cause in the log, and the next task succeeds; a TLS target with
#     a password; --create-task over TLS; usage errors; a TLS store with
#     a password (--store-password-file);
#   - keys/s of the same task over TLS and over plain TCP (printed).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Time::HiRes qw(time sleep);
use List::Util qw(max);
use Hotkey::Test qw(uuid hex32 free_port json_decode);
use Hotkey::Analyzer qw(:all);
use Hotkey::Auth qw(ctl spew);
use Hotkey::TLS;

plan skip_all => 'hotkey-analyzer not built: make analyzer' unless analyzer_bin();
plan skip_all => 'no openssl command' if system('openssl version >/dev/null 2>&1');
srand(4460);

my $store = Hotkey::Test->new;
my $c = Hotkey::TLS::certs($store->prefix . '/tls');
my $sport = free_port();
$store->start_redis(args => [ Hotkey::TLS::redis_args($c, $sport) ]);
my $S = "127.0.0.1:$sport";
my @client = ('--store-tls-cert', $c->{client_crt}, '--store-tls-key', $c->{client_key});
my @stls = ('--store', $S, '--store-tls', '--store-tls-ca', $c->{ca}, @client,
            '--store-tls-name', 'redis.test');

# the target: LFU with frozen counters, TLS beside its plain port (which
# only this test uses, to fill it and to compute the truth)
my $tport = free_port();
my $tgt = target(keys => 3000, args => [ Hotkey::TLS::redis_args($c, $tport) ]);
fill_target($tgt, keys => 500, db => 3, prefix => 'three');
touch($tgt, 0, "k:$_", 1 + int(rand(40))) for 1 .. 250;
touch($tgt, 3, "three:$_", 1 + int(rand(40))) for 1 .. 50;
my @ttls = ('--tls', '--tls-ca', $c->{ca}, '--tls-cert', $c->{client_crt},
            '--tls-key', $c->{client_key}, '--tls-name', 'redis.test');

my $P = hex32();
my ($I, $I2, $I3) = (uuid(), uuid(), uuid());

sub run_ctl { return ctl($store, @_) }

# the analyzer's open descriptors and threads
sub held {
    my ($a) = @_;
    my @n;
    for my $dir (qw(fd task)) {
        opendir(my $d, "/proc/$a->{pid}/$dir") or return;
        push @n, scalar grep { !/^\./ } readdir $d;
    }
    return @n;
}
sub inst { my %h = @{ $store->redis('HGETALL', "hotkey:{$_[0]}:instance") || [] }; \%h }

# ------------------------------------------------------------ hotkeyctl

my ($rc, $out) = run_ctl('instance', '--help');
like($out, qr/--$_\b/, "instance --help documents --$_")
    for qw(store-tls store-tls-ca store-tls-cert store-tls-key store-tls-name
           store-tls-no-verify tls-ca tls-cert tls-key tls-name);

($rc, $out) = run_ctl('instance', 'add', @stls, '--project', $P, '--instance', $I,
                      '--addr', "127.0.0.1:$tport", @ttls);
is($rc, 0, 'add over TLS, the policy read over TLS: 0') or diag $out;
like($out, qr/\(standalone, tls\), maxmemory-policy allkeys-lfu: registered/, '... says what it recorded');
my $h = inst($I);
is($h->{tls}, '1', '... tls 1');
is($h->{eviction_policy}, 'allkeys-lfu', '... the policy read from the TLS target');
is($h->{addr}, "127.0.0.1:$tport", '... its TLS address');

($rc, $out) = run_ctl('instance', 'list', @stls, '--json');
is($rc, 0, 'list over TLS: 0') or diag $out;
my $list = eval { json_decode($out) } || [];
is_deeply([ map { [ $_->{instance_id}, $_->{tls} ? 1 : 0 ] } @$list ], [ [ $I, 1 ] ],
          '... the instance, tls yes');

# refusals: the same call each time, one thing wrong
sub refused {
    my ($name, $re, @args) = @_;
    my ($rc, $out) = run_ctl('instance', 'list', '--timeout', 2, @args);
    is($rc, 1, "$name: exit 1");
    like($out, $re, '... ' . "$re") or diag $out;
}
refused('a CA that did not sign the store\'s certificate',
        qr/cannot connect to the store at \Q$S\E: .*TLS handshake: certificate verify failed/,
        '--store', $S, '--store-tls', '--store-tls-ca', $c->{other_ca}, @client);
refused('the system\'s CAs (no --store-tls-ca)', qr/certificate verify failed/,
        '--store', $S, '--store-tls', @client);
refused('no client certificate', qr/cannot connect to the store .*TLS handshake: .*certificate required/,
        '--store', $S, '--store-tls', '--store-tls-ca', $c->{ca});
refused('a name the certificate does not hold',
        qr/TLS handshake: certificate verify failed: hostname mismatch/,
        '--store', $S, '--store-tls', '--store-tls-ca', $c->{ca}, @client,
        '--store-tls-name', 'other.test');
refused('an IP the certificate does not hold',
        qr/TLS handshake: certificate verify failed: IP address mismatch/,
        '--store', $S, '--store-tls', '--store-tls-ca', $c->{ca}, @client,
        '--store-tls-name', '127.0.0.2');
refused('TLS to a plain port', qr/TLS handshake timed out/,
        '--store', '127.0.0.1:' . $store->redis_port, '--store-tls', '--store-tls-no-verify');
refused('an unreadable CA file', qr/cannot read the trusted CAs \S+: No such file/,
        '--store', $S, '--store-tls', '--store-tls-ca', $store->prefix . '/none.pem');
refused('a key that is not the certificate\'s', qr/cannot use the key .*mismatch/,
        '--store', $S, '--store-tls', '--store-tls-ca', $c->{ca},
        '--store-tls-cert', $c->{client_crt}, '--store-tls-key', $c->{server_key});

($rc, $out) = run_ctl('instance', 'list', '--store', $S, '--store-tls', '--store-tls-ca', $c->{ca},
                      @client, '--store-tls-name', '127.0.0.1');
is($rc, 0, 'an IP name the certificate holds: 0') or diag $out;
($rc, $out) = run_ctl('instance', 'list', '--store', $S, '--store-tls', '--store-tls-no-verify', @client);
is($rc, 0, '--store-tls-no-verify: 0 whatever the CA') or diag $out;
like($out, qr/^\Q$I\E .*tls=yes/m, '... lists the instance');

($rc, $out) = run_ctl('instance', 'list', '--store', $S, '--store-tls-ca', $c->{ca});
is($rc, 2, '--store-tls-ca without --store-tls: usage (2)');
like($out, qr/go with --store-tls/, '... says so');
($rc, $out) = run_ctl('instance', 'list', '--store', $S, '--store-tls',
                      '--store-tls-cert', $c->{client_crt});
is($rc, 2, 'a certificate without its key: usage (2)');
($rc, $out) = run_ctl('instance', 'list', '--store', 'unix:/nonexistent', '--store-tls');
is($rc, 1, 'TLS to a unix socket: 1');
like($out, qr/no TLS on a unix socket/, '... says so');

# the instance over TLS with a wrong CA, or none of its name
($rc, $out) = run_ctl('instance', 'add', @stls, '--project', $P, '--instance', $I2,
                      '--addr', "127.0.0.1:$tport", '--tls', '--tls-ca', $c->{other_ca},
                      '--tls-cert', $c->{client_crt}, '--tls-key', $c->{client_key});
is($rc, 1, 'add: an instance whose CA is wrong: 1');
like($out, qr/cannot connect to the instance at 127\.0\.0\.1:$tport: TLS handshake: certificate verify failed/,
     '... says why') or diag $out;
is($store->redis('EXISTS', "hotkey:{$I2}:instance"), 0, '... nothing written');
($rc, $out) = run_ctl('instance', 'add', @stls, '--project', $P, '--instance', $I2,
                      '--addr', "127.0.0.1:$tport", '--tls', '--tls-ca', $c->{ca},
                      '--tls-cert', $c->{client_crt}, '--tls-key', $c->{client_key},
                      '--tls-name', 'nope.test');
is($rc, 1, 'add: a name the instance\'s certificate does not hold: 1');
like($out, qr/hostname mismatch/, '... says why');
($rc, $out) = run_ctl('instance', 'add', @stls, '--project', $P, '--instance', $I2,
                      '--addr', "127.0.0.1:$tport", '--tls-ca', $c->{ca});
is($rc, 2, '--tls-ca without --tls: usage (2)');

# a TLS instance with a password
my $PASS = 'tls-p@ss-' . hex32();
my $pport = free_port();
my $pw = target(keys => 1500, args => [ Hotkey::TLS::redis_args($c, $pport) ]);
touch($pw, 0, "k:$_", 1 + int(rand(30))) for 1 .. 200;
$pw->redis('CONFIG', 'SET', 'requirepass', $PASS);
spew($store->prefix . '/pass', "$PASS\n", 0600);
($rc, $out) = run_ctl('instance', 'add', @stls, '--project', $P, '--instance', $I3,
                      '--addr', "127.0.0.1:$pport", @ttls);
is($rc, 1, 'a TLS instance with a password, none given: 1');
like($out, qr/NOAUTH/, '... its answer is shown') or diag $out;
($rc, $out) = run_ctl('instance', 'add', @stls, '--project', $P, '--instance', $I3,
                      '--addr', "127.0.0.1:$pport", @ttls, '--password-file',
                      $store->prefix . '/pass');
is($rc, 0, '... with --password-file: 0') or diag $out;
unlike($out, qr/\Q$PASS\E/, '... the password not printed');

# ------------------------------------------------------------ the analyzer

my $creds = $store->prefix . '/analyzer-credentials';
my $tls_line = "tls-ca=$c->{ca} tls-cert=$c->{client_crt} tls-key=$c->{client_key}";
my $wrong_line = "tls-ca=$c->{other_ca} tls-cert=$c->{client_crt} tls-key=$c->{client_key}";
spew($creds, "# TLS targets\n$I $tls_line tls-name=redis.test\n"
             . "$I2 $wrong_line\n"
             . "$I3 password=$PASS $tls_line tls-name=127.0.0.1\n", 0600);
register($store, $I2, $tport, project => $P);
$store->redis('HSET', "hotkey:{$I2}:instance", 'tls', 1);

my @astore = ('--store', $S, '--store-tls', '--store-tls-ca', $c->{ca}, @client,
              '--store-tls-name', 'redis.test');
my $bin = analyzer_bin();
$out = `'$bin' --store $S --store-tls-ca $c->{ca} --create-task $I 2>&1`;
is($? >> 8, 2, 'analyzer: --store-tls-ca without --store-tls: usage (2)');
like($out, qr/go with --store-tls/, '... says so');
$out = `'$bin' --store $S --store-tls --store-tls-ca $c->{other_ca} @client --create-task $I 2>&1`;
is($? >> 8, 1, 'analyzer: --create-task with a wrong CA for the store: 1');
like($out, qr/unreachable: .*certificate verify failed/, '... says why') or diag $out;

my $a = start_analyzer($store, args => [ '--no-pacing', '--credentials', $creds, @astore ]);
like(analyzer_log($a), qr/started: store \Q$S\E \(TLS\)/, 'analyzer: started on a TLS store');

sub tls_task {
    my ($iid) = @_;
    my $tid = `'$bin' @astore --create-task $iid 2>&1`;
    chomp $tid;
    return ($tid, {}) unless $? == 0 && $tid =~ /^[0-9a-f-]{36}$/;
    return ($tid, wait_task($store, $iid, $tid, qr/^(success|failed)$/, 60));
}

my $snap = snapshot([ $tgt, shard => "127.0.0.1:$tport" ]);
my ($tid, $task) = tls_task($I);
like($tid, qr/^[0-9a-f-]{36}$/, '--create-task over TLS: a task id') or diag $tid;
is($task->{status}, 'success', 'a TLS target, over a TLS store: success')
    or diag(analyzer_log($a));
my $keys = task_keys($store, $I, $tid);
my $want = truth($snap);
is(scalar @$want, 100, 'the truth has 100 keys');
is_deeply($keys, $want, '... the true top 100, with the TLS address as shard');
is($task->{num}, 100, '... num 100');
my @held = held($a);
is(scalar(grep { $_ > 0 } @held), 2, "the analyzer's descriptors and threads counted (@held)");

($tid, $task) = tls_task($I2);
is($task->{status}, 'failed', 'a TLS target whose CA is wrong: failed');
like(analyzer_log($a), qr/task \Q$tid\E .*result=failed .*cause="127\.0\.0\.1:$tport: cannot connect: TLS handshake: certificate verify failed: [^"]+"/,
     '... the cause in the log') or diag(analyzer_log($a));
ok(kill(0, $a->{pid}), '... the analyzer runs on');

$snap = snapshot([ $tgt, shard => "127.0.0.1:$tport" ]);
($tid, $task) = tls_task($I);
is($task->{status}, 'success', 'the next task of the good instance: success')
    or diag(analyzer_log($a));
is_deeply(task_keys($store, $I, $tid), truth($snap), '... the true top 100');

$snap = snapshot([ $pw, shard => "127.0.0.1:$pport" ]);
($tid, $task) = tls_task($I3);
is($task->{status}, 'success', 'a TLS target with a password (IP name): success')
    or diag(analyzer_log($a));
is_deeply(task_keys($store, $I3, $tid), truth($snap), '... the true top 100');
unlike(analyzer_log($a), qr/\Q$PASS\E/, '... the password is not in the log');

spew($creds, "$I3 $tls_line\n", 0600);
($tid, $task) = tls_task($I3);
is($task->{status}, 'failed', '... without its password: failed');
like(analyzer_log($a), qr/task \Q$tid\E .*cause=".*NOAUTH/, '... NOAUTH in the log');

spew($creds, "$I3 password=$PASS tls-cert=$c->{client_crt}\n", 0600);
($tid, $task) = tls_task($I3);
is($task->{status}, 'failed', 'a credentials line with tls-cert= and no tls-key=: failed');
like(analyzer_log($a), qr/task \Q$tid\E .*cause="credentials: .*tls-cert= and tls-key= go together"/,
     '... said in the log');
unlike(analyzer_log($a), qr/\Q$PASS\E/, '... the password is not in the log');
is_deeply([ held($a) ], \@held,
          'after six more tasks over TLS: the same descriptors and threads')
    or diag(`ls -l /proc/$a->{pid}/fd`);

stop_analyzer($a);
is($a->{status}, 0, 'SIGTERM: exit 0');

# ------------------------------------------------------------ speed

# the same task over plain TCP and over TLS, on 200,000 keys (printed;
# the README gives a measured figure)
my $big_tls = free_port();
my $big = target(args => [ Hotkey::TLS::redis_args($c, $big_tls, clients => 'no') ]);
$big->redis_pipeline(map { [ 'SET', "b:$_", 'v' ] } 1 .. 200_000);
my ($plain_id, $tls_id) = (uuid(), uuid());
register($store, $plain_id, $big->redis_port);
register($store, $tls_id, $big_tls);
$store->redis('HSET', "hotkey:{$tls_id}:instance", 'tls', 1);
spew($creds, "$tls_id tls-ca=$c->{ca}\n", 0600);
$a = start_analyzer($store, name => 'speed', args => [ '--no-pacing', '--credentials', $creds ]);
my %rate;
for my $round (1 .. 2) {
    for my $kind ([ plain => $plain_id ], [ tls => $tls_id ]) {
        my ($name, $iid) = @$kind;
        my $id = create_task($store, $iid);
        my $t = wait_task($store, $iid, $id, qr/^(success|failed)$/, 120);
        is($t->{status}, 'success', "speed, $name, round $round: success");
        my ($n, $d) = analyzer_log($a) =~ /task \Q$id\E .*keys_scanned=(\d+) .*duration=([\d.]+)s/;
        push @{ $rate{$name} }, $n / $d if $n && $d > 0;
    }
}
stop_analyzer($a);
my %best = map { $_ => max(@{ $rate{$_} || [0] }) } qw(plain tls);
diag(sprintf 'speed on 200,000 keys (best of 2): plain %.0f keys/s, TLS %.0f keys/s (%.0f%%)',
     $best{plain}, $best{tls}, $best{plain} ? 100 * $best{tls} / $best{plain} : 0);
cmp_ok($best{tls}, '>', 0, 'TLS keys/s measured');

# ------------------------------------------------------------ a store with a password

my $SPASS = 'store-' . hex32();
spew($store->prefix . '/store-pass', "$SPASS\n", 0600);
$store->redis('CONFIG', 'SET', 'requirepass', $SPASS);    # this connection stays in
spew($creds, "$I $tls_line tls-name=redis.test\n", 0600);
$out = `'$bin' @astore --create-task $I 2>&1`;
is($? >> 8, 1, 'a store with a password, the analyzer without it: --create-task fails');
like($out, qr/NOAUTH/, '... NOAUTH');
push @astore, '--store-password-file', $store->prefix . '/store-pass';
$a = start_analyzer($store, name => 'pass', args => [ '--no-pacing', '--credentials', $creds, @astore ]);
$snap = snapshot([ $tgt, shard => "127.0.0.1:$tport" ]);
($tid, $task) = tls_task($I);
is($task->{status}, 'success', '--store-password-file over TLS: a task created and done')
    or diag(analyzer_log($a));
is_deeply(task_keys($store, $I, $tid), truth($snap), '... the true top 100');
unlike(analyzer_log($a), qr/\Q$SPASS\E/, '... the password is not in the log');
stop_analyzer($a);
($rc, $out) = run_ctl('instance', 'list', @stls, '--store-password-file', $store->prefix . '/store-pass');
is($rc, 0, 'hotkeyctl: the same store, TLS and a password: 0') or diag $out;
like($out, qr/^\Q$I\E .*tls=yes/m, '... lists the instance');
$store->redis('CONFIG', 'SET', 'requirepass', '');

$store->done;
