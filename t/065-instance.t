#!/usr/bin/perl
# hotkeyctl instance add|list|remove against real redis-servers: the
# store, and targets to register (an allkeys-lru one, an LFU one behind a
# password with CONFIG renamed away), an unreachable one; the instance
# hash and hotkey:registry exactly as the README's schema says, the
# password never in the store nor printed; re-adding keeps created_at,
# another project needs --force; remove refuses while tasks exist and
# --force takes every key of the instance; each change is published on
# hotkey:changes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use IO::Socket::INET;
use Hotkey::Test qw(:all);
use Hotkey::Auth qw(:all);

my $t = Hotkey::Test->new;
$t->start_redis;
my $store = '127.0.0.1:' . $t->redis_port;

# targets: their own redis-servers, no nginx needed
my $lru = Hotkey::Test->new;
$lru->start_redis(args => ['--maxmemory-policy', 'allkeys-lru']);
my $PASS = 'tgt-p@ss ' . hex32();
my $lfu = Hotkey::Test->new;
my $CFG = 'CFG' . hex32();      # CONFIG under a secret name only
$lfu->start_redis(args => ['--maxmemory-policy', 'volatile-lfu',
                           '--rename-command', 'CONFIG', $CFG]);
$lfu->redis($CFG, 'SET', 'requirepass', $PASS);
my $pass_file = $t->prefix . '/target-pass';
spew($pass_file, "$PASS\n", 0600);

my $P = hex32();
my $P2 = uuid();
my ($I1, $I2, $I3) = (uuid(), uuid(), uuid());

sub run_ctl { my ($rc, $out) = ctl($t, @_); return ($rc, $out) }

sub inst { my %h = @{ $t->redis('HGETALL', "hotkey:{$_[0]}:instance") || [] }; \%h }

# a subscriber on hotkey:changes, read at the end
my $sub = IO::Socket::INET->new(PeerAddr => $store, Timeout => 5) or die "sub: $!";
print $sub "SUBSCRIBE hotkey:changes\r\n";
sleep 0.2;

# ---- help and usage
my ($rc, $out) = run_ctl('instance', '--help');
is($rc, 0, 'instance --help exits 0');
like($out, qr/^usage: hotkeyctl instance add /, '... usage');
like($out, qr/--$_\b/, "... documents --$_")
    for qw(store project instance addr mode tls password-file policy force json);
($rc, $out) = run_ctl('instance');
is($rc, 2, 'instance without a verb: 2');
($rc, $out) = run_ctl('instance', 'add', '--store', $store, '--project', $P);
is($rc, 2, 'add without --instance/--addr: 2');
($rc, $out) = run_ctl('instance', 'add', '--store', $store, '--project', 'NOT-HEX',
                      '--instance', $I1, '--addr', '127.0.0.1:1');
is($rc, 2, 'bad --project: 2');
($rc, $out) = run_ctl('instance', 'add', '--store', $store, '--project', $P,
                      '--instance', uc $I1, '--addr', '127.0.0.1:1');
is($rc, 2, 'uppercase --instance: 2');
($rc, $out) = run_ctl('instance', 'add', '--store', $store, '--project', $P,
                      '--instance', $I1, '--addr', '127.0.0.1:1', '--mode', 'sentinel');
is($rc, 2, 'bad --mode: 2');
is($t->redis('EXISTS', "hotkey:{$I1}:instance"), 0, 'nothing written by refused calls');

# ---- an allkeys-lru target: recorded, as not analysable
my $before = int(time * 1000);
($rc, $out) = run_ctl('instance', 'add', '--store', $store, '--project', $P,
                      '--instance', $I1, '--addr', '127.0.0.1:' . $lru->redis_port);
my $after = int(time * 1000) + 1;
is($rc, 0, 'add an allkeys-lru target: 0') or diag $out;
like($out, qr/maxmemory-policy allkeys-lru: registered/, '... says what it recorded');
like($out, qr/DCS\.4922/, '... and that the API will answer DCS.4922');
my $h = inst($I1);
is_deeply([sort keys %$h], [sort qw(project_id eviction_policy addr mode created_at)],
          '... the instance hash has the schema fields (no tls)');
is($h->{project_id}, $P, '... project_id');
is($h->{eviction_policy}, 'allkeys-lru', '... eviction_policy read from the target');
is($h->{addr}, '127.0.0.1:' . $lru->redis_port, '... addr');
is($h->{mode}, 'standalone', '... mode standalone by default');
ok($h->{created_at} =~ /^\d+$/ && $h->{created_at} >= $before && $h->{created_at} <= $after,
   '... created_at in ms') or diag $h->{created_at};
is_deeply($t->redis('SMEMBERS', 'hotkey:registry'), [$I1], '... and in hotkey:registry');

# ---- a password-protected LFU target, CONFIG renamed: INFO, password never stored
($rc, $out) = run_ctl('instance', 'add', '--store', $store, '--project', $P,
                      '--instance', $I2, '--addr', '127.0.0.1:' . $lfu->redis_port,
                      '--mode', 'cluster', '--tls', '--policy', 'volatile-lfu');
is($rc, 0, 'add with --tls and --policy (no connection): 0') or diag $out;
is(inst($I2)->{tls}, '1', '... tls 1');
($rc, $out) = run_ctl('instance', 'add', '--store', $store, '--project', $P,
                      '--instance', $I2, '--addr', '127.0.0.1:' . $lfu->redis_port,
                      '--mode', 'cluster', '--tls', '--timeout', '1');
is($rc, 1, '--tls without --policy to a plain port: 1 (TLS is tried)');
like($out, qr/cannot connect to the instance at .*TLS handshake/, '... says so') or diag $out;
($rc, $out) = run_ctl('instance', 'add', '--store', $store, '--project', $P,
                      '--instance', $I2, '--addr', '127.0.0.1:' . $lfu->redis_port,
                      '--tls-ca', '/nonexistent');
is($rc, 2, '--tls-ca without --tls: usage');
my $created2 = inst($I2)->{created_at};
($rc, $out) = run_ctl('instance', 'add', '--store', $store, '--project', $P,
                      '--instance', $I2, '--addr', '127.0.0.1:' . $lfu->redis_port,
                      '--mode', 'cluster');
is($rc, 1, 'a target that needs a password, none given: 1');
like($out, qr/NOAUTH/, '... the target\'s answer is shown');
sleep 0.01;
($rc, $out) = run_ctl('instance', 'add', '--store', $store, '--project', $P,
                      '--instance', $I2, '--addr', '127.0.0.1:' . $lfu->redis_port,
                      '--mode', 'cluster', '--password-file', $pass_file);
is($rc, 0, 'with --password-file: 0 (CONFIG refused, INFO read)') or diag $out;
like($out, qr/volatile-lfu: updated/, '... re-added: updated');
unlike($out, qr/\Q$PASS\E/, '... the password is not printed');
$h = inst($I2);
is($h->{eviction_policy}, 'volatile-lfu', '... policy from INFO');
is($h->{mode}, 'cluster', '... mode cluster');
ok(!exists $h->{tls}, '... tls dropped when not given');
is($h->{created_at}, $created2, '... created_at kept');
my $dump = join "\n", map { join ' ', @{ $t->redis('HGETALL', $_) || [] } }
           grep { /instance$/ } @{ $t->redis('KEYS', '*') };
unlike($dump . join(' ', @{ $t->redis('SMEMBERS', 'hotkey:registry') }), qr/\Q$PASS\E|tgt-p/,
       'the password is nowhere in the store');

# wrong password
spew("$pass_file.bad", "nope\n", 0600);
($rc, $out) = run_ctl('instance', 'add', '--store', $store, '--project', $P,
                      '--instance', $I2, '--addr', '127.0.0.1:' . $lfu->redis_port,
                      '--password-file', "$pass_file.bad");
is($rc, 1, 'a wrong password: 1');
like($out, qr/refused AUTH/, '... says AUTH was refused');
unlike($out, qr/nope/, '... without printing the password');

# ---- an unreachable target: clear error, non-zero, nothing written
my $dead = free_port();
my $t0 = time;
($rc, $out) = run_ctl('instance', 'add', '--store', $store, '--project', $P,
                      '--instance', $I3, '--addr', "127.0.0.1:$dead", '--timeout', '2');
is($rc, 1, 'an unreachable target: exit 1');
like($out, qr/cannot connect to the instance at 127\.0\.0\.1:$dead/, '... a clear error') or diag $out;
cmp_ok(time - $t0, '<', 5, '... quickly');
is($t->redis('EXISTS', "hotkey:{$I3}:instance"), 0, '... nothing written');
($rc, $out) = run_ctl('instance', 'list', '--store', "127.0.0.1:$dead");
is($rc, 1, 'an unreachable store: exit 1');
like($out, qr/cannot connect to the store/, '... says so');

# ---- another project needs --force
($rc, $out) = run_ctl('instance', 'add', '--store', $store, '--project', $P2,
                      '--instance', $I1, '--addr', '127.0.0.1:' . $lru->redis_port);
is($rc, 1, 'an instance of another project: refused');
like($out, qr/registered to project \Q$P\E; --force/, '... says whose it is');
is(inst($I1)->{project_id}, $P, '... unchanged');
($rc, $out) = run_ctl('instance', 'add', '--store', $store, '--project', $P2,
                      '--instance', $I1, '--addr', '127.0.0.1:' . $lru->redis_port, '--force');
is($rc, 0, '... moved with --force') or diag $out;
is(inst($I1)->{project_id}, $P2, '... now the other project');

# ---- list
$t->redis('HSET', "hotkey:{$I3}:instance", project_id => $P, eviction_policy => 'allkeys-lfu');
$t->add_tasks($I2, map { { status => 'success' } } 1 .. 3);
($rc, $out) = run_ctl('instance', 'list', '--store', $store);
is($rc, 0, 'list: 0');
my @lines = grep { length } split /\n/, $out;
is(scalar @lines, 3, '... one line per instance (registered, and one written by hand)') or diag $out;
like($out, qr/^\Q$I2\E project_id=\Q$P\E addr=127\.0\.0\.1:\d+ mode=cluster tls=no eviction_policy=volatile-lfu analysable=yes created_at=\d{4}-\d\d-\d\dT[\d:.]+Z tasks=3 registered=yes/m,
     '... the LFU instance') or diag $out;
like($out, qr/^\Q$I1\E .*eviction_policy=allkeys-lru analysable=no .*registered=yes/m, '... the LRU one');
like($out, qr/^\Q$I3\E .*registered=no/m, '... the hand-written one, not registered');
unlike($out, qr/\Q$PASS\E/, '... no password');
($rc, $out) = run_ctl('instance', 'list', '--store', $store, '--json');
my $list = eval { json_decode($out) };
is(ref $list, 'ARRAY', 'list --json: an array') or diag $out;
my ($e2) = grep { $_->{instance_id} eq $I2 } @{ $list || [] };
is_deeply($e2 && [ @$e2{qw(project_id eviction_policy analysable mode tls tasks registered)} ],
          [ $P, 'volatile-lfu', JSON::PP::true, 'cluster', JSON::PP::false, 3, JSON::PP::true ],
          '... with its fields');

# ---- remove
($rc, $out) = run_ctl('instance', 'remove', '--store', $store, '--instance', $I2);
is($rc, 1, 'remove an instance with tasks: refused');
like($out, qr/has 3 task records.*--force/, '... says why and how');
is($t->redis('EXISTS', "hotkey:{$I2}:instance"), 1, '... the hash stays');
($rc, $out) = run_ctl('instance', 'remove', '--store', $store, '--instance', $I1);
is($rc, 0, 'remove one without tasks: 0') or diag $out;
is($t->redis('EXISTS', "hotkey:{$I1}:instance"), 0, '... the hash is gone');
is($t->redis('SISMEMBER', 'hotkey:registry', $I1), 0, '... and its registry entry');
($rc, $out) = run_ctl('instance', 'remove', '--store', $store, '--instance', $I1);
is($rc, 1, 'remove it again: 1 (no such instance)');
like($out, qr/no instance/, '... says so');
$t->redis('HSET', "hotkey:{$I2}:autoscan", enable_auto_scan => 1, schedule_at => '01:00');
my $other = uuid();
$t->add_instance($other, project => $P);
$t->add_tasks($other, { status => 'success' });
($rc, $out) = run_ctl('instance', 'remove', '--store', $store, '--instance', $I2, '--force');
is($rc, 0, 'remove --force: 0') or diag $out;
is_deeply($t->redis('KEYS', "hotkey:{$I2}:*"), [], '... every key of the instance is gone');
is($t->redis('ZCARD', "hotkey:{$other}:tasks"), 1, '... another instance keeps its tasks');
is_deeply($t->redis('SMEMBERS', 'hotkey:registry'), [], '... the registry is empty');

# ---- the changes were published
my $msgs = '';
$sub->blocking(0);
my $end = time + 2;
while (time < $end) {
    my $n = sysread($sub, my $buf, 65536);
    $msgs .= $buf if $n;
    last if $msgs =~ /\Q$I2\E.*\Q$I2\E.*\Q$I2\E/s && $msgs =~ /\Q$I1\E/;
    sleep 0.05;
}
my $count2 = () = $msgs =~ /\$36\r\n\Q$I2\E\r\n/g;
my $count1 = () = $msgs =~ /\$36\r\n\Q$I1\E\r\n/g;
cmp_ok($count2, '>=', 3, 'adds and the forced remove of one instance published on hotkey:changes');
cmp_ok($count1, '>=', 3, '... and of the other (add, move, remove)');

$lru->stop_redis;
$lfu->kill_redis;
$t->done;
