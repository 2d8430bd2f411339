package Hotkey::Analyzer;

# Helpers of the hotkey-analyzer tests, on top of Hotkey::Test (which
# starts each redis-server and speaks RESP to it):
#
#   my $store = Hotkey::Test->new; $store->start_redis;
#   my $tgt = target(keys => 2000);       # an LFU redis-server, counters
#                                         # frozen, one access = +1
#   register($store, $iid, $tgt->redis_port);
#   my $a = start_analyzer($store, args => ['--no-pacing']);
#   my $tid = create_task($store, $iid);
#   my $task = wait_task($store, $iid, $tid, qr/^(success|failed)$/, 30);
#   is_deeply(task_keys($store, $iid, $tid), truth([$tgt]), ...);
#   stop_analyzer($a);
#
# Core Perl modules only.

use strict;
use warnings;

use Exporter 'import';
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use IO::Socket::INET;
use Hotkey::Test qw(free_port build_file private_copy);

our @EXPORT_OK = qw(
    analyzer_bin target lfu_args fill_target touch register create_task
    start_analyzer stop_analyzer analyzer_log wait_task task task_keys
    snapshot truth truth_of wait_until http_get name_cut
);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

my $BIN;

# the analyzer under test: a private copy of build/hotkey-analyzer (others
# may rebuild build/ while the tests run); undef when not built
sub analyzer_bin {
    return $BIN if $BIN;
    my $b = build_file('hotkey-analyzer');
    return undef unless -x $b;
    ($BIN) = private_copy($b);
    return $BIN;
}

# LFU with frozen counters that count every access: OBJECT FREQ is then
# 5 for a new key plus one per read (at most 255)
sub lfu_args {
    return ('--maxmemory-policy', 'allkeys-lfu', '--lfu-decay-time', '0',
            '--lfu-log-factor', '0');
}

# target(%o): a started redis-server to analyse (a Hotkey::Test object)
sub target {
    my (%o) = @_;
    my $t = Hotkey::Test->new;
    $t->start_redis(args => [ lfu_args(), @{ $o{args} || [] } ]);
    fill_target($t, %o) if $o{keys};
    return $t;
}

# fill_target($t, keys => N, db => D, prefix => P): N keys of every type
# in db D; every 7th a list, set, zset, hash or stream, the rest strings
sub fill_target {
    my ($t, %o) = @_;
    my $db = $o{db} // 0;
    my $p = $o{prefix} // 'k';
    my @cmds = ([ 'SELECT', $db ]);
    for my $i (1 .. $o{keys}) {
        my $k = "$p:$i";
        my $m = $i % 7;
        push @cmds, $m == 1 ? [ 'RPUSH', $k, ('x') x (1 + $i % 5) ]
                  : $m == 2 ? [ 'SADD', $k, map { "m$_" } 0 .. $i % 4 ]
                  : $m == 3 ? [ 'ZADD', $k, map { ($_, "m$_") } 0 .. $i % 3 ]
                  : $m == 4 ? [ 'HSET', $k, map { ("f$_", $_) } 0 .. $i % 6 ]
                  : $m == 5 ? [ 'XADD', $k, '*', 'f', 'v' ]
                  : [ 'SET', $k, 'v' x (1 + $i % 40) ];
    }
    $t->redis_pipeline(@cmds);
}

# touch($t, $db, $key, $n): n reads of the key (one LFU step each)
sub touch {
    my ($t, $db, $key, $n) = @_;
    my $type = ($t->redis_pipeline([ 'SELECT', $db ], [ 'TYPE', $key ]))[1];
    my %read = (string => 'STRLEN', list => 'LLEN', set => 'SCARD',
                zset => 'ZCARD', hash => 'HLEN', stream => 'XLEN');
    my $cmd = $read{$type} or die "touch: $key is $type";
    $t->redis_pipeline([ 'SELECT', $db ], map { [ $cmd, $key ] } 1 .. $n);
}

# register($store, $iid, $addr_or_port, mode => , project => , policy => )
sub register {
    my ($store, $iid, $addr, %o) = @_;
    $addr = "127.0.0.1:$addr" if $addr =~ /^\d+$/;
    $store->redis('HSET', "hotkey:{$iid}:instance",
                  project_id => $o{project} // 'e46ec5a1-4d32-4072-a89d-aae309ef775f',
                  eviction_policy => $o{policy} // 'allkeys-lfu',
                  addr => $addr, mode => $o{mode} // 'standalone');
    $store->redis('SADD', 'hotkey:registry', $iid);
}

# create_task($store, $iid): a manual task through the shared
# the create script (hotkey-analyzer --create-task); its id, or undef
sub create_task {
    my ($store, $iid) = @_;
    my $bin = analyzer_bin();
    my $port = $store->redis_port;
    my $out = `'$bin' --store 127.0.0.1:$port --create-task $iid 2>&1`;
    chomp $out;
    return $? == 0 && $out =~ /^[0-9a-f-]{36}$/ ? $out : undef;
}

# start_analyzer($store, args => [...], name => 'a', metrics => 1):
# { pid, log, metrics (port) }
sub start_analyzer {
    my ($store, %o) = @_;
    my $bin = analyzer_bin();
    my $name = $o{name} // 'a';
    my $log = $store->prefix . "/logs/analyzer-$name.log";
    my $mport = free_port();
    my @cmd = ($bin, '--store', '127.0.0.1:' . $store->redis_port,
               '--log', $log, '--metrics', "127.0.0.1:$mport",
               '--pass-ms', '300', @{ $o{args} || [] });
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$log.out";
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    my $a = { pid => $pid, log => $log, metrics => $mport, cmd => \@cmd };
    wait_until(5, sub { -s $log || waitpid($pid, WNOHANG) == $pid });
    return $a;
}

# stop_analyzer($a, 'TERM'|'KILL'): signals it and reaps it (KILL after 10 s)
sub stop_analyzer {
    my ($a, $sig) = @_;
    return unless $a && $a->{pid};
    kill $sig // 'TERM', $a->{pid};
    my $end = time + 10;
    while (time < $end) {
        my $w = waitpid($a->{pid}, WNOHANG);
        last if $w == $a->{pid} || $w == -1;
        sleep 0.05;
    }
    if (kill 0, $a->{pid}) {
        kill 'KILL', $a->{pid};
        waitpid($a->{pid}, 0);
    }
    $a->{status} = $?;
    delete $a->{pid};
}

sub analyzer_log {
    my ($a) = @_;
    open my $fh, '<', $a->{log} or return '';
    local $/;
    return <$fh> // '';
}

# wait_until($seconds, sub { ... }): polls every 50 ms; the sub's last value
sub wait_until {
    my ($timeout, $cb) = @_;
    my $end = time + $timeout;
    while (1) {
        my $v = $cb->();
        return $v if $v || time >= $end;
        sleep 0.05;
    }
}

# task($store, $iid, $tid): the task hash as a hash ref (empty when gone)
sub task {
    my ($store, $iid, $tid) = @_;
    my $r = $store->redis('HGETALL', "hotkey:{$iid}:task:$tid");
    return { ref $r eq 'ARRAY' ? @$r : () };
}

# wait_task($store, $iid, $tid, qr/status/, $seconds): the task once its
# status matches (or as it is when the time is up)
sub wait_task {
    my ($store, $iid, $tid, $re, $timeout) = @_;
    my $t;
    wait_until($timeout, sub {
        $t = task($store, $iid, $tid);
        return ($t->{status} // '') =~ $re;
    });
    return $t;
}

sub task_keys {
    my ($store, $iid, $tid) = @_;
    my $r = $store->redis('LRANGE', "hotkey:{$iid}:task:$tid:keys", 0, -1);
    return ref $r eq 'ARRAY' ? $r : [];
}

# name_cut($name): the bytes of a name the store keeps (README schema):
# all of a name up to 1024 bytes; else 1024, or less to end on a character
# boundary when the name is UTF-8 that far
my $UTF8 = qr/[\x00-\x7f]|[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]
             |[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]
             |\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}
             |\xf4[\x80-\x8f][\x80-\xbf]{2}/x;
sub name_cut {
    my ($n) = @_;
    return $n if length($n) <= 1024;
    my $i = 0;
    while ($i < 1024) {
        return substr($n, 0, 1024) unless substr($n, $i, 4) =~ /\A($UTF8)/;
        return substr($n, 0, $i) if $i + length($1) > 1024;
        $i += length $1;
    }
    return substr($n, 0, 1024);
}

# truth_of($t, shard => "host:port"): [freq, db, type, size, unit, shard,
# name] of every key with freq > 0, read independently (SCAN, OBJECT FREQ,
# TYPE; sizes afterwards, since a size read counts as an access)
sub truth_of {
    my ($t, %o) = @_;
    my $shard = $o{shard} // '127.0.0.1:' . $t->redis_port;
    my $info = $t->redis('INFO', 'keyspace');
    my @dbs = $info =~ /^db(\d+):keys=/mg;
    my @all;
    for my $db (@dbs) {
        my $cursor = 0;
        my @keys;
        do {
            my ($sel, $r) = $t->redis_pipeline([ 'SELECT', $db ],
                                               [ 'SCAN', $cursor, 'COUNT', 1000 ]);
            $cursor = $r->[0];
            push @keys, @{ $r->[1] };
        } while ($cursor ne '0');
        my @f = $t->redis_pipeline([ 'SELECT', $db ],
                                   map { [ 'OBJECT', 'FREQ', $_ ] } @keys);
        shift @f;
        for my $i (0 .. $#keys) {
            push @all, [ $f[$i], $db, undef, undef, undef, $shard, $keys[$i] ]
                if $f[$i] > 0;
        }
    }
    return \@all;
}

# snapshot(@targets): the freq of every key of every target, taken before
# a task (OBJECT FREQ and TYPE do not count as accesses); a target is a
# Hotkey::Test object or [$t, shard => "host:port"]
sub snapshot {
    my @all;
    for my $x (@_) {
        my ($t, @o) = ref $x eq 'ARRAY' ? @$x : ($x);
        push @all, map { [ @$_, $t ] } @{ truth_of($t, @o) };
    }
    return \@all;
}

# truth($snapshot): the top 100 of a snapshot as the store's elements,
# <freq>|<db>|<type>|<size>|<unit>|<shard>|<name>, in the details order;
# sizes are read now (a size read counts as an access: after the task)
sub truth {
    my ($snap) = @_;
    my @all = sort { $b->[0] <=> $a->[0] || $a->[1] <=> $b->[1]
                     || $a->[6] cmp $b->[6] } @$snap;
    splice @all, 100 if @all > 100;
    my %size = (string => 'STRLEN', list => 'LLEN', set => 'SCARD',
                zset => 'ZCARD', hash => 'HLEN', stream => 'XLEN');
    my @out;
    for my $k (@all) {
        my $t = $k->[7];
        my (undef, $type) = $t->redis_pipeline([ 'SELECT', $k->[1] ],
                                               [ 'TYPE', $k->[6] ]);
        my $cmd = $size{$type};
        my (undef, $n) = $t->redis_pipeline([ 'SELECT', $k->[1] ],
            $cmd ? [ $cmd, $k->[6] ] : [ 'MEMORY', 'USAGE', $k->[6] ]);
        my $unit = $type eq 'string' || !$cmd ? 'byte' : 'count';
        push @out, join '|', $k->[0], $k->[1], $type, $n, $unit, $k->[5],
                             name_cut($k->[6]);
    }
    return \@out;
}

# http_get($port, $path): [status, body]
sub http_get {
    my ($port, $path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 3)
        or return [ 0, '' ];
    print $s "GET $path HTTP/1.0\r\nHost: x\r\n\r\n";
    local $/;
    my $r = <$s> // '';
    my ($st) = $r =~ m{^HTTP/1\.\d (\d+)};
    my ($body) = $r =~ /\r\n\r\n(.*)\z/s;
    return [ $st // 0, $body // '' ];
}

1;
