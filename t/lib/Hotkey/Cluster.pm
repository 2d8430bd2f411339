package Hotkey::Cluster;

# A real Redis Cluster for the tests: N masters, each with R replicas,
# every node a redis-server on free ports of 127.0.0.1 (client port and
# cluster bus port both picked free; a node whose port was taken
# meanwhile is started again on others), created with
# `redis-cli --cluster create`, ready once every node says
# cluster_state:ok, knows every node and covers all 16384 slots, and
# every replica's link to its master is up.
#
#   use Hotkey::Cluster;
#   my $c = Hotkey::Cluster->new(masters => 3, replicas => 1,
#                                node_timeout => 1000, args => [...]);
#
# Topology (read from the live nodes each call unless said otherwise):
#   $c->nodes              every node "127.0.0.1:port", masters first (as
#                          created; fixed)
#   $c->masters            "host:port" of the live masters owning slots,
#                          ordered by their first slot
#   $c->replicas           live nodes that are replicas
#   $c->alive($addr)       1 while the node's process runs
#   $c->master_of_slot($slot)      "host:port" (undef when none)
#   $c->slot_of($key)              CRC16 slot, hash tags honoured
#   $c->slot_of_instance($iid)     the slot of hotkey:{<iid>}:...
#   $c->master_of_instance($iid)   master_of_slot(slot_of_instance)
#   $c->instance_on($addr)         a new random instance id (lowercase
#                                  UUID) whose slot $addr serves
#   $c->node($addr)        the node as a Hotkey::Test object (redis,
#                          redis_pipeline, redis_port, prefix: the
#                          Hotkey::Analyzer helpers take it)
#
# Talking to nodes:
#   $c->redis($addr, @cmd) one command to that node, the parsed reply
#                          (scalar, undef, array ref, { err => "..." }), as
#                          Hotkey::Test->redis
#   $c->cli($addr, @args)  runs `redis-cli -h host -p port @args`, returns
#                          its output (stdout and stderr); $? as it left it
#   $c->cmd(@cmd)          one command to the cluster: sent to a live node,
#                          following MOVED, ASK (ASKING first), TRYAGAIN
#                          and CLUSTERDOWN (retried for up to 10 s)
#   $c->store              an object with redis(@cmd), redis_pipeline(...)
#                          (cluster routed, as cmd), redis_port (a live
#                          master's port), prefix: pass it where the
#                          Hotkey::Analyzer helpers want the store
#                          ($store->redis_port is read once by them)
#
# Faults and changes:
#   $c->kill_master_of($slot)     SIGKILL of that slot's master; its addr
#   $c->kill_node($addr)          SIGKILL of any node
#   $c->wait_failover($slot, $timeout)
#                                 waits until a live node is master of the
#                                 slot and every live node says
#                                 cluster_state:ok and agrees; the seconds
#                                 since the kill of kill_master_of (since
#                                 the call when there was none), undef on
#                                 timeout
#   $c->revive($addr)             starts a killed node again (same port and
#                                 nodes.conf: it rejoins, as a replica when
#                                 it was failed over); waits for ok
#   $c->migrate_slot($slot, $to, keys => N | move => [@keys])
#                                 moves a slot to master $to: SETSLOT
#                                 IMPORTING on $to, MIGRATING on the owner,
#                                 MIGRATE of its keys in batches of 100,
#                                 SETSLOT NODE on every master.  With
#                                 keys => N it stops after moving at most N
#                                 keys, with move => [...] after moving
#                                 just those, leaving the slot
#                                 half-migrated (the owner answers ASK for
#                                 moved keys, TRYAGAIN for a script or
#                                 command on moved and unmoved keys)
#                                 until finish_migration($slot)
#   $c->finish_migration($slot)   moves the rest and SETSLOT NODE
#   $c->wait_ok($timeout)         cluster_state:ok and one view of the
#                                 slots on every live node; 1 or 0
#   $c->stop                      stops every node (SHUTDOWN NOSAVE, then
#                                 SIGKILL); also on DESTROY and at exit,
#                                 also when the test dies
#
# Options of new: masters (3), replicas (1: per master), node_timeout
# (1000 ms), args (more redis-server arguments for every node), timeout
# (seconds to wait for the cluster, 30), tls (certificates from
# Hotkey::TLS::certs: every node also serves TLS on a port of its own,
# $c->tls_port($addr), and the cluster bus and replication speak TLS;
# a TLS client is told the nodes' TLS ports, a plain one their plain
# ports, so everything above keeps working).  Dies when the cluster does not
# come up.  Needs redis-server (HOTKEY_REDIS) and redis-cli in PATH.
#
# Core Perl modules only.

use strict;
use warnings;

use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(free_port uuid);

my @ALL;

sub new {
    my ($class, %o) = @_;
    my $self = bless {
        owner        => $$,
        nmasters     => $o{masters} // 3,
        nreplicas    => $o{replicas} // 1,
        node_timeout => $o{node_timeout} // 1000,
        args         => $o{args} || [],
        tls          => $o{tls},
        timeout      => $o{timeout} || 30,
        by_addr      => {},
        conn         => undef,
        killed_at    => {},
        migrating    => {},
    }, $class;
    push @ALL, $self;
    my $n = $self->{nmasters} * (1 + $self->{nreplicas});
    my @addrs = map { $self->_start_node } 1 .. $n;
    $self->{created} = \@addrs;
    my $out = $self->_create(@addrs);
    $self->_wait_up or die "the cluster did not come up:\n$out\n"
        . join('', map { $self->_info_text($_) } @addrs);
    my @m = $self->masters;
    my %m = map { $_ => 1 } @m;
    $self->{nodes} = [ @m, grep { !$m{$_} } @addrs ];
    return $self;
}

sub nodes    { @{ $_[0]{nodes} || $_[0]{created} } }
sub node     { $_[0]{by_addr}{ $_[1] } }
sub alive    { my $n = $_[0]->node($_[1]); $n && $n->{redis_pid} ? 1 : 0 }
sub live     { my $s = shift; grep { $s->alive($_) } $s->nodes }
sub node_timeout { $_[0]{node_timeout} }
sub tls_port { $_[0]->node($_[1])->{tls_port} }

# ---------------------------------------------------------------- start

sub _node_args {
    my ($self) = @_;
    return ('--cluster-enabled', 'yes',
            '--cluster-config-file', 'nodes.conf',
            '--cluster-node-timeout', $self->{node_timeout},
            '--cluster-port', free_port(),
            '--cluster-require-full-coverage', 'yes',
            '--appendonly', 'no', '--save', '',
            @{ $self->{args} });
}

# a node on free ports; a port taken between picking and binding (other
# processes on the machine pick too) costs one more try
sub _start_node {
    my ($self) = @_;
    my $err = '';
    for (1 .. 5) {
        my $n = Hotkey::Test->new;
        my @args = $self->_node_args;
        if ($self->{tls}) {
            require Hotkey::TLS;
            $n->{tls_port} = free_port();
            push @args, Hotkey::TLS::redis_args($self->{tls}, $n->{tls_port},
                                                cluster => 1);
        }
        $n->{cluster_args} = \@args;
        if (eval { $n->start_redis(args => \@args); 1 }) {
            my $addr = '127.0.0.1:' . $n->redis_port;
            $self->{by_addr}{$addr} = $n;
            return $addr;
        }
        $err = $@;
        $n->cleanup;
    }
    die "no cluster node could start: $err";
}

sub _create {
    my ($self, @addrs) = @_;
    my @cmd = ('redis-cli', '--cluster', 'create', @addrs,
               '--cluster-replicas', $self->{nreplicas}, '--cluster-yes');
    my $out = _run(@cmd);
    die "@cmd failed:\n$out" if $?;
    return $out;
}

# command output (stdout and stderr) without a shell
sub _run {
    my @cmd = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return $out;
}

sub _info_text {
    my ($self, $addr) = @_;
    my $i = eval { $self->redis($addr, 'CLUSTER', 'INFO') } // "$@";
    return "$addr: " . (ref $i ? $i->{err} // '' : $i) . "\n";
}

sub _wait_up {
    my ($self) = @_;
    my $want = scalar $self->live;
    return _until($self->{timeout}, sub {
        return 0 unless $self->wait_ok(0);
        for my $a ($self->live) {
            my $nodes = $self->redis($a, 'CLUSTER', 'NODES');
            return 0 if ref $nodes || $nodes =~ /fail|handshake|noaddr/;
            return 0 if (() = $nodes =~ /\n/g) != $want;
            my $r = $self->redis($a, 'INFO', 'replication');
            return 0 if $r =~ /role:slave/ && $r !~ /master_link_status:up/;
        }
        return 1;
    });
}

sub _until {
    my ($timeout, $cb) = @_;
    my $end = time + $timeout;
    while (1) {
        my $v = eval { $cb->() };
        return $v if $v;
        return 0 if time >= $end;
        sleep 0.1;
    }
}

# ---------------------------------------------------------------- talk

sub redis {
    my ($self, $addr, @cmd) = @_;
    my $n = $self->node($addr) or die "not a node of the cluster: $addr";
    return $n->redis(@cmd);
}

sub cli {
    my ($self, $addr, @args) = @_;
    my ($h, $p) = $addr =~ /^(.*):(\d+)$/ or die "bad address $addr";
    return _run('redis-cli', '-h', $h, '-p', $p, @args);
}

# cmd(@cmd): a command to the cluster, wherever its key lives
sub cmd {
    my ($self, @cmd) = @_;
    my $end = time + 10;
    my ($addr, $ask) = ($self->{conn}, 0);
    for (my $hops = 0; ; $hops++) {
        die "cluster command @cmd: no answer in time" if time > $end;
        $addr = ($self->live)[0] unless $addr && $self->alive($addr);
        die "cluster command: no live node" unless $addr;
        my $r = eval {
            $ask ? ($self->node($addr)->redis_pipeline(['ASKING'], \@cmd))[1]
                 : $self->redis($addr, @cmd);
        };
        if (!defined $r && $@) {             # a node that went away
            sleep 0.1;
            $addr = (grep { $_ ne $addr } $self->live)[$hops % 2];
            next;
        }
        $ask = 0;
        if (ref $r eq 'HASH' && $r->{err} =~ /^(MOVED|ASK) \d+ (\S+)/) {
            $ask = $1 eq 'ASK';
            $addr = $2;
            $self->{conn} = $addr unless $ask;
            next;
        }
        if (ref $r eq 'HASH' && $r->{err} =~ /^(TRYAGAIN|CLUSTERDOWN)/) {
            sleep 0.1;
            next;
        }
        $self->{conn} = $addr;
        return $r;
    }
}

sub store { Hotkey::Cluster::Store->new($_[0]) }

# ---------------------------------------------------------------- topology

my @CRC16;
for my $i (0 .. 255) {
    my $crc = $i << 8;
    for (1 .. 8) {
        $crc = $crc & 0x8000 ? (($crc << 1) ^ 0x1021) : ($crc << 1);
        $crc &= 0xffff;
    }
    $CRC16[$i] = $crc;
}

sub crc16 {
    my ($s) = @_;
    my $crc = 0;
    $crc = (($crc << 8) & 0xffff) ^ $CRC16[(($crc >> 8) ^ $_) & 0xff]
        for unpack 'C*', $s;
    return $crc;
}

sub slot_of {
    my ($self, $key) = @_;
    $key = $1 if $key =~ /\{([^}]+)\}/ && index($key, '{') == $-[0];
    return crc16($key) % 16384;
}

sub slot_of_instance { $_[0]->slot_of("hotkey:{$_[1]}:instance") }

# the slot map as a live node sees it: [ [from, to, "host:port"], ... ]
sub _slots {
    my ($self, $addr) = @_;
    my $r = $self->redis($addr, 'CLUSTER', 'SLOTS');
    die "CLUSTER SLOTS: $r->{err}" if ref $r eq 'HASH';
    return [ sort { $a->[0] <=> $b->[0] }
             map { [ $_->[0], $_->[1], "$_->[2][0]:$_->[2][1]" ] } @$r ];
}

sub _any_slots {
    my ($self) = @_;
    for my $a ($self->live) {
        my $s = eval { $self->_slots($a) };
        return $s if $s;
    }
    die "no live node answers CLUSTER SLOTS";
}

sub master_of_slot {
    my ($self, $slot) = @_;
    for my $r (@{ $self->_any_slots }) {
        return $r->[2] if $slot >= $r->[0] && $slot <= $r->[1];
    }
    return undef;
}

sub master_of_instance {
    my ($self, $iid) = @_;
    return $self->master_of_slot($self->slot_of_instance($iid));
}

sub masters {
    my ($self) = @_;
    my (@m, %seen);
    for my $r (@{ $self->_any_slots }) {
        push @m, $r->[2] unless $seen{ $r->[2] }++;
    }
    return grep { $self->alive($_) } @m;
}

sub replicas {
    my ($self) = @_;
    return grep {
        my $r = eval { $self->redis($_, 'ROLE') };
        ref $r eq 'ARRAY' && $r->[0] eq 'slave';
    } $self->live;
}

sub instance_on {
    my ($self, $addr) = @_;
    my @own = grep { $_->[2] eq $addr } @{ $self->_any_slots };
    die "$addr serves no slot" unless @own;
    for (1 .. 100000) {
        my $iid = uuid();
        my $s = $self->slot_of_instance($iid);
        return $iid if grep { $s >= $_->[0] && $s <= $_->[1] } @own;
    }
    die "no instance id found for $addr";
}

# ---------------------------------------------------------------- faults

sub kill_node {
    my ($self, $addr) = @_;
    my $n = $self->node($addr) or die "not a node: $addr";
    $n->kill_redis;
    delete $self->{conn} if ($self->{conn} // '') eq $addr;
    return $addr;
}

sub kill_master_of {
    my ($self, $slot) = @_;
    my $addr = $self->master_of_slot($slot) // die "slot $slot has no master";
    $self->kill_node($addr);
    $self->{killed_at}{$slot} = time;
    return $addr;
}

sub wait_ok {
    my ($self, $timeout) = @_;
    return _until($timeout, sub {
        my $view;
        for my $a ($self->live) {
            my $i = $self->redis($a, 'CLUSTER', 'INFO');
            return 0 if ref $i || $i !~ /cluster_state:ok/
                        || $i !~ /cluster_slots_ok:16384/;
            my $v = join ',', map { "@$_" } @{ $self->_slots($a) };
            return 0 if defined $view && $v ne $view;
            $view = $v;
        }
        return 1;
    }) ? 1 : 0;
}

sub wait_failover {
    my ($self, $slot, $timeout) = @_;
    my $t0 = delete $self->{killed_at}{$slot} // time;
    my $ok = _until($timeout // 30, sub {
        my $m = $self->master_of_slot($slot);
        return $m && $self->alive($m) && $self->wait_ok(0);
    });
    return $ok ? time - $t0 : undef;
}

sub revive {
    my ($self, $addr) = @_;
    my $n = $self->node($addr) or die "not a node: $addr";
    return 1 if $n->{redis_pid};
    $n->start_redis(args => $n->{cluster_args});
    return $self->wait_ok(30);
}

# ---------------------------------------------------------------- slots

sub _id {
    my ($self, $addr) = @_;
    my $r = $self->redis($addr, 'CLUSTER', 'MYID');
    die "CLUSTER MYID of $addr: $r->{err}" if ref $r;
    return $r;
}

sub _ok {
    my ($what, $r) = @_;
    die "$what: $r->{err}" if ref $r eq 'HASH';
    return $r;
}

sub migrate_slot {
    my ($self, $slot, $to, %o) = @_;
    my $from = $self->master_of_slot($slot) // die "slot $slot has no master";
    die "slot $slot is served by $to already" if $from eq $to;
    _ok("IMPORTING on $to", $self->redis($to, 'CLUSTER', 'SETSLOT', $slot,
        'IMPORTING', $self->_id($from)));
    _ok("MIGRATING on $from", $self->redis($from, 'CLUSTER', 'SETSLOT',
        $slot, 'MIGRATING', $self->_id($to)));
    $self->{migrating}{$slot} = [ $from, $to ];
    if ($o{move}) {
        my ($h, $p) = $to =~ /^(.*):(\d+)$/;
        $p = $self->tls_port($to) if $self->{tls};
        _ok("MIGRATE to $to", $self->redis($from, 'MIGRATE', $h, $p, '', 0,
            5000, 'KEYS', @{ $o{move} }));
        return 1;
    }
    $self->_move_keys($slot, $o{keys});
    return 1 if defined $o{keys};
    return $self->finish_migration($slot);
}

sub _move_keys {
    my ($self, $slot, $max) = @_;
    my ($from, $to) = @{ $self->{migrating}{$slot} };
    my ($h, $p) = $to =~ /^(.*):(\d+)$/;
    # a node of a TLS cluster migrates over TLS
    $p = $self->tls_port($to) if $self->{tls};
    my $moved = 0;
    while (!defined $max || $moved < $max) {
        my $n = defined $max && $max - $moved < 100 ? $max - $moved : 100;
        my $keys = _ok("GETKEYSINSLOT", $self->redis($from, 'CLUSTER',
            'GETKEYSINSLOT', $slot, $n));
        last unless @$keys;
        _ok("MIGRATE to $to", $self->redis($from, 'MIGRATE', $h, $p, '', 0,
            5000, 'KEYS', @$keys));
        $moved += @$keys;
    }
    return $moved;
}

sub finish_migration {
    my ($self, $slot) = @_;
    my ($from, $to) = @{ delete $self->{migrating}{$slot}
                         // die "slot $slot is not migrating" };
    $self->{migrating}{$slot} = [ $from, $to ];
    $self->_move_keys($slot);
    delete $self->{migrating}{$slot};
    my $id = $self->_id($to);
    # the importing side first: then the slot has an owner at each step
    for my $m ($to, $from, grep { $_ ne $to && $_ ne $from } $self->masters) {
        _ok("SETSLOT NODE on $m",
            $self->redis($m, 'CLUSTER', 'SETSLOT', $slot, 'NODE', $id));
    }
    return $self->wait_ok(30);
}

# ---------------------------------------------------------------- stop

sub stop {
    my ($self) = @_;
    return unless $self->{owner} == $$;
    $_->cleanup for grep { defined } values %{ $self->{by_addr} || {} };
}

sub DESTROY { $_[0]->stop }

END {
    my $rc = $?;
    $_->stop for grep { defined } @ALL;
    $? = $rc;
}

# ---------------------------------------------------------------- store

# the cluster seen as one store by the Hotkey::Analyzer helpers
package Hotkey::Cluster::Store;

sub new { bless { c => $_[1] }, $_[0] }

sub redis { my $s = shift; $s->{c}->cmd(@_) }

sub redis_pipeline {
    my $s = shift;
    return map { $s->{c}->cmd(@$_) } @_;
}

sub redis_port {
    my ($s) = @_;
    my ($m) = $s->{c}->masters;
    return (split /:/, $m)[1];
}

sub prefix { $_[0]{c}->node(($_[0]{c}->nodes)[0])->prefix }

sub cluster { $_[0]{c} }

1;
