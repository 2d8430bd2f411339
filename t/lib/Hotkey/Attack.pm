package Hotkey::Attack;

# Helpers of the attack tests (t/13x-t/17x: coalescing, shared memory, rate
# limiter edge cases), on top of Hotkey::Test.  Core Perl modules only, plus
# cc for the collision finder.  Everything here is black-box: processes,
# sockets, /proc, Redis commands.
#
#   use Hotkey::Attack qw(:all);
#   worker_list($t)          -> the nginx worker pids, in spawn order (the
#                               first one is worker 0)
#   wait_workers($t)        -> worker_list once all $t->{workers} are up
#   cpu_secs($pid)           -> utime + stime of a process, in seconds
#   cpu_growth($secs, @pids) -> { pid => cpu seconds used over $secs }
#   idle_check($t, $name)    -> a test: every worker used < 0.2 s of CPU over
#                               1 s (a spinning worker fails it)
#   hard_stop($t)            -> SIGKILL to nginx's master and children (a
#                               spinning worker never leaves on quit)
#   pause_store($t) / resume_store($t)  -> SIGSTOP / SIGCONT redis-server
#                               (resumed at exit whatever happens)
#   store_calls($t)          -> the scripts Redis ran (EVAL and EVALSHA
#                               from INFO commandstats): round trips
#   slow_store($t, $name, $delay)   -> a fake store forwarding every command
#                               to the real Redis after $delay seconds
#   junk_store($t, $name, $junk)    -> a fake store answering with the real
#                               Redis reply followed by $junk
#   gate_store($t, $name, pace => s) -> a fake store in one process (any
#                               number of connections) that holds every
#                               command until gate_open($t, $name), then
#                               forwards them to the real Redis in arrival
#                               order, one every pace seconds
#   gate_held($t, $name)     -> the commands it holds now
#   collide_bin($t)          -> t/tools/collide.c built into the prefix
#   find_collision($t, $pre, $suf)  -> (a, b, hash): numbers whose strings
#                               "$pre$a$suf" and "$pre$b$suf" have the same
#                               32-bit murmur2 hash (nginx's ngx_murmur_hash2)
#   murmur_range($t, $pre, $suf, $from, $to) -> { n => hash }
#   conn_to($t, $pid)        -> a kept Conn to that worker (the server needs
#                               location = /pid { return 200 "$pid"; })
#   conn_other($t, $old)     -> (Conn, its worker's pid): a kept Conn to a
#                               worker other than $old (any when undef)
#   new_workers($t, @old)    -> the workers a reload started, once all are up
#   hold_master($t)          -> strace holds nginx's master in its next
#                               sleep: after a reload's new workers start,
#                               before the old ones are told to quit (100
#                               ms, held 30 s); the strace pid, or undef
#                               when it cannot trace; release_master($pid)
#                               lets the master go on
#   set_worker_connections($t, $n) -> rewrites the written nginx.conf's
#                               worker_connections (call start_nginx()
#                               without a snippet afterwards)
#   Hotkey::Attack::H2->new($t, port => ) : an HTTP/2 (h2c, prior
#       knowledge) connection, frames written by hand so that a test can
#       reset one stream or drop the connection at a chosen moment:
#       ->get($path) -> stream id (no wait)
#       ->rst($id)   -> RST_STREAM (CANCEL) of one stream
#       ->pump(timeout => s, until => sub { ... })  reads frames
#       ->response($id) -> { status, body, json, done, reset }
#       ->wait_done(\@ids, timeout => s) -> ids still unanswered
#       ->close, ->reset (close with RST)
#   Hotkey::Attack::Conn->new($t, port => ) : a keepalive HTTP connection
#       ->send($method, $path, [headers])  (no wait)
#       ->recv(timeout => s)  -> a response as Hotkey::Test returns it
#       ->ask($method, $path, [headers], timeout => s) -> send + recv
#       ->close, ->reset (close with RST: SO_LINGER 0)

use strict;
use warnings;

use Exporter 'import';
use Test::More;
use POSIX ();
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(time sleep);
use Hotkey::Test ();

our @EXPORT_OK = qw(
    worker_list wait_workers conn_to conn_other new_workers hold_master
    release_master cpu_secs cpu_growth idle_check hard_stop pause_store
    resume_store store_calls slow_store junk_store collide_bin
    find_collision murmur_range set_worker_connections gate_store
    gate_held gate_open
);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

my $TICK = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;

sub _stat {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return;
    my $s = <$fh> // return;
    $s =~ s/^.*\)\s+//s;    # fields from 3 on (state is [0])
    return split ' ', $s;
}

sub _cmdline {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/cmdline" or return '';
    local $/;
    my $c = <$fh> // '';
    $c =~ tr/\0/ /;
    return $c;
}

# The worker processes of the running nginx (not the cache manager or
# loader), ordered as the master spawned them: start time, then pid.
sub worker_list {
    my ($t) = @_;
    my @w;
    for my $pid ($t->worker_pids) {
        next unless _cmdline($pid) =~ /worker process/;
        my @f = _stat($pid) or next;
        push @w, [$pid, $f[19]];    # field 22: starttime
    }
    return map { $_->[0] } sort { $a->[1] <=> $b->[1] || $a->[0] <=> $b->[0] } @w;
}

# worker_list once every worker has named itself (a child takes a moment
# after the fork to set its title): at most 10 s.
sub wait_workers {
    my ($t) = @_;
    my @w = worker_list($t);
    my $end = time + 10;
    while (@w < $t->{workers} && time < $end) {
        sleep 0.05;
        @w = worker_list($t);
    }
    return @w;
}

# a kept connection whose worker ($ok->(pid)) suits, within 10 s
sub _conn_where {
    my ($t, $ok) = @_;
    my $end = time + 10;
    while (time < $end) {
        my $c = Hotkey::Attack::Conn->new($t) or next;
        my $w = $c->ask('GET', '/pid', [], timeout => 2)->{body} // '';
        return ($c, $w) if $w ne '' && $ok->($w);
        $c->close;
        sleep 0.01;
    }
    return;
}

sub conn_to {
    my ($t, $pid) = @_;
    return (_conn_where($t, sub { $_[0] eq $pid }))[0];
}

sub conn_other {
    my ($t, $old) = @_;
    return _conn_where($t, sub { !defined $old || $_[0] ne $old });
}

sub new_workers {
    my ($t, @old) = @_;
    my %old = map { $_ => 1 } @old;
    my @new;
    my $end = time + 10;
    while (time < $end) {
        @new = grep { !$old{$_} } worker_list($t);
        last if @new == $t->{workers}
                && _cmdline($new[-1]) =~ /worker process/;
        sleep 0.05;
    }
    return @new;
}

sub _tracer {
    open my $fh, '<', "/proc/$_[0]/status" or return 0;
    while (<$fh>) { return $1 if /^TracerPid:\s+(\d+)/ }
    return 0;
}

sub hold_master {
    my ($t) = @_;
    return undef if system('strace -V >/dev/null 2>&1') != 0;
    my $master = $t->master_pid;
    my $st = fork // die "fork: $!";
    if ($st == 0) {
        open STDERR, '>', '/dev/null';
        exec('strace', '-qq', '-o', $t->prefix . '/strace-master.out',
             '-p', $master, '-e', 'trace=nanosleep,clock_nanosleep',
             '-e', 'inject=nanosleep,clock_nanosleep:delay_enter=30000000')
            or POSIX::_exit(1);
    }
    my $end = time + 5;
    sleep 0.05 until _tracer($master) || time > $end;
    return $st if _tracer($master);
    release_master($st);
    return undef;
}

sub release_master {
    my ($st) = @_;
    return unless $st;
    kill 'INT', $st;
    waitpid($st, 0);
}

sub cpu_secs {
    my ($pid) = @_;
    my @f = _stat($pid) or return undef;
    return ($f[11] + $f[12]) / $TICK;    # fields 14, 15: utime, stime
}

sub cpu_growth {
    my ($secs, @pids) = @_;
    my %a = map { $_ => cpu_secs($_) } @pids;
    sleep $secs;
    my %g;
    for my $p (@pids) {
        my $b = cpu_secs($p);
        $g{$p} = defined $a{$p} && defined $b ? $b - $a{$p} : 0;
    }
    return \%g;
}

# A test: every worker of $t is idle (< 0.2 s of CPU over 1 s).
sub idle_check {
    my ($t, $name) = @_;
    my @w = wait_workers($t);
    my $g = cpu_growth(1, @w);
    my @busy = grep { $g->{$_} >= 0.2 } @w;
    my $ok = ok(@w && !@busy, $name);
    diag('worker CPU over 1 s: '
         . join(', ', map { sprintf '%d: %.2fs', $_, $g->{$_} } @w)) unless $ok;
    return $ok;
}

# SIGKILL to the master and every child: a worker that spins does not
# leave on quit.  The master is stopped first (it can no longer respawn a
# worker that crashed), then its process group (the daemon's, holding the
# workers) and the children it had are killed; it dies before them, so it
# does not log their deaths.
sub hard_stop {
    my ($t) = @_;
    my $m = $t->{nginx_master} // $t->master_pid;
    return unless $m;
    kill 'STOP', $m;
    my @kids = $t->worker_pids($m);
    my $pgid = (_stat($m))[2];    # field 5: the process group
    kill 'KILL', $m;
    my $end = time + 3;
    sleep 0.02 while Hotkey::Test::_alive($m) && time < $end;
    kill 'KILL', -$pgid if $pgid && $pgid == $m;
    kill 'KILL', @kids if @kids;
    $end = time + 3;
    sleep 0.02 while grep({ Hotkey::Test::_alive($_) } @kids) && time < $end;
    unlink $t->prefix . '/logs/nginx.pid';
    delete $t->{nginx_master};
}

# --------------------------------------------------------------- the store

my %PAUSED;

sub pause_store {
    my ($t) = @_;
    my $pid = $t->{redis_pid} or die 'no redis-server to pause';
    kill 'STOP', $pid;
    $PAUSED{$pid} = 1;
}

sub resume_store {
    my ($t) = @_;
    my $pid = $t->{redis_pid} or return;
    kill 'CONT', $pid;
    delete $PAUSED{$pid};
}

END { kill 'CONT', $_ for keys %PAUSED }

# the store round trips: the scripts Redis ran (EVAL and EVALSHA; a
# NOSCRIPT EVALSHA is a failed call, retried as EVAL, so not counted).
# The commands a script runs are counted by Redis too, so they are left out.
sub store_calls {
    my ($t) = @_;
    my $info = $t->redis('INFO', 'commandstats');
    my $n = 0;
    for (split /\r?\n/, $info // '') {
        next unless /^cmdstat_(?:eval|evalsha):calls=(\d+)(.*)$/;
        my ($calls, $rest) = ($1, $2);
        $calls -= $1 if $rest =~ /failed_calls=(\d+)/;
        $n += $calls;
    }
    return $n;
}

sub slow_store {
    my ($t, $name, $delay) = @_;
    return $t->start_fake($name, reply => sub { sleep $delay; undef },
                          to => $t->redis_port);
}

sub junk_store {
    my ($t, $name, $junk) = @_;
    my $rp = $t->redis_port;
    return $t->start_fake($name, reply => sub {
        return Hotkey::Test::_proxy($rp, $_[0]) . $junk;
    });
}

sub _gate_file { $_[0]->prefix . "/logs/gate-$_[1]" }

sub gate_store {
    my ($t, $name, %o) = @_;
    my $pace = $o{pace} // 0;
    my $rp = $t->redis_port;
    my $port = $t->port($name);
    my $f = _gate_file($t, $name);
    unlink "$f.open", "$f.held";
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                    Proto => 'tcp', Listen => 4096, ReuseAddr => 1)
        or die "gate store $name: listen on $port: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $SIG{TERM} = sub { POSIX::_exit(0) };
        $SIG{PIPE} = 'IGNORE';
        require IO::Select;
        $srv->blocking(0);
        my $sel = IO::Select->new($srv);
        my (%buf, @pending, $rs, $open);
        my $held = -1;
        while (1) {
            # the gate closes again when the file goes (a new round)
            $open = -e "$f.open";
            my $busy = @pending && $open;
            for my $h ($sel->can_read($busy ? 0 : 0.02)) {
                if ($h == $srv) {
                    while (my $c = $srv->accept) { binmode $c; $sel->add($c) }
                    next;
                }
                my $n = sysread($h, my $d, 65536);
                if (!$n) { $sel->remove($h); close $h; delete $buf{"$h"}; next }
                $buf{"$h"} .= $d;
                while (my $cmd = Hotkey::Test::_parse_cmd(\$buf{"$h"})) {
                    push @pending, [$h, $cmd];
                }
            }
            if (@pending != $held) {
                $held = @pending;
                if (open my $o, '>', "$f.tmp") { print $o $held; close $o; rename "$f.tmp", "$f.held" }
            }
            next unless $open;
            while (my $p = shift @pending) {
                my ($h, $cmd) = @$p;
                my $reply = _gate_ask(\$rs, $rp, $cmd);
                syswrite($h, $reply) if $h->opened;
                Time::HiRes::sleep($pace) if $pace;
                last if $pace;    # read what came meanwhile
            }
        }
    }
    close $srv;
    $t->{fakes}{$name} = $pid;
    return $port;
}

# one command over a kept connection to the real Redis; its whole reply
sub _gate_ask {
    my ($rs, $rp, $cmd) = @_;
    $$rs ||= IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $rp,
                                   Proto => 'tcp', Timeout => 2) or return '';
    my $s = $$rs;
    binmode $s;
    my $req = Hotkey::Test::_resp_cmd(@$cmd);
    while (length $req) {
        my $n = syswrite($s, $req);
        if (!defined $n) { undef $$rs; return '' }
        substr($req, 0, $n, '');
    }
    my $buf = '';
    my $sel = IO::Select->new($s);
    while ($sel->can_read(5)) {
        my $n = sysread($s, my $d, 65536);
        if (!$n) { undef $$rs; last }
        $buf .= $d;
        my $pos = 0;
        last if Hotkey::Test::_resp_end(\$buf, \$pos) && $pos == length $buf;
    }
    return $buf;
}

sub gate_held {
    my ($t, $name) = @_;
    open my $fh, '<', _gate_file($t, $name) . '.held' or return 0;
    my $n = <$fh>;
    return $n // 0;
}

sub gate_open {
    my ($t, $name) = @_;
    open my $fh, '>', _gate_file($t, $name) . '.open' or die $!;
    close $fh;
}

# --------------------------------------------------------------- collisions

sub collide_bin {
    my ($t) = @_;
    return $t->{_collide} if $t->{_collide};
    my $src = Hotkey::Test::top() . '/t/tools/collide.c';
    my $bin = $t->prefix . '/collide';
    my $out = `cc -O2 -o '$bin' '$src' 2>&1`;
    die "cc collide.c: $out" if $?;
    return $t->{_collide} = $bin;
}

sub _q { my $s = shift; $s =~ s/'/'\\''/g; "'$s'" }

sub find_collision {
    my ($t, $pre, $suf, $from) = @_;
    my $bin = collide_bin($t);
    my $out = `$bin find @{[ _q($pre) ]} @{[ _q($suf) ]} @{[ $from // 0 ]}`;
    my ($a, $b, $h) = $out =~ /^(\d+) (\d+) (\d+)$/m
        or die "collide find: no collision ($out)";
    return ($a, $b, $h);
}

sub murmur_range {
    my ($t, $pre, $suf, $from, $to) = @_;
    my $bin = collide_bin($t);
    my %h = map { /^(\d+) (\d+)$/ ? ($1 => $2) : () }
            split /\n/, `$bin range @{[ _q($pre) ]} @{[ _q($suf) ]} $from $to`;
    return \%h;
}

# worker_connections of the config file written by write_conf/start_nginx
sub set_worker_connections {
    my ($t, $n) = @_;
    my $f = $t->prefix . '/conf/nginx.conf';
    open my $in, '<', $f or die "$f: $!";
    local $/;
    my $c = <$in>;
    close $in;
    $c =~ s/worker_connections \d+;/worker_connections $n;/;
    open my $out, '>', $f or die "$f: $!";
    print $out $c;
    close $out;
}

# --------------------------------------------------------------- connections

package Hotkey::Attack::Conn;

use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(time);

sub new {
    my ($class, $t, %o) = @_;
    my $port = $o{port} || $t->nginx_port;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or return undef;
    binmode $s;
    return bless { sock => $s, buf => '', port => $port, sent => [] }, $class;
}

sub send {
    my ($self, $method, $path, $headers, $body) = @_;
    my @h = @{ $headers || [] };
    my $req = "$method $path HTTP/1.1\r\nHost: localhost\r\n";
    for (my $i = 0; $i < @h; $i += 2) { $req .= "$h[$i]: $h[$i + 1]\r\n" }
    $req .= 'Content-Length: ' . length($body) . "\r\n" if defined $body;
    $req .= "\r\n" . ($body // '');
    my $s = $self->{sock};
    while (length $req) {
        my $n = syswrite($s, $req);
        return 0 unless defined $n;
        substr($req, 0, $n, '');
    }
    push @{ $self->{sent} }, [$method, time];
    return 1;
}

# One response (of the oldest request sent); {status => undef, error =>
# 'timeout'} when none came in time.
sub recv {
    my ($self, %o) = @_;
    my $req = shift @{ $self->{sent} } || ['GET', time];
    my $st = { sock => $self->{sock}, buf => $self->{buf}, eof => 0,
               deadline => time + ($o{timeout} // 5) };
    my $r = Hotkey::Test::_read_response($st, $req->[0] eq 'HEAD');
    $self->{buf} = $st->{buf};
    $r->{elapsed} = time - $req->[1];
    $r->{done_at} = time;
    $self->{dead} = 1 if !defined $r->{status};
    return $r;
}

sub ask {
    my ($self, $method, $path, $headers, %o) = @_;
    $self->send($method, $path, $headers, $o{body})
        or return { status => undef, error => 'send failed' };
    return $self->recv(%o);
}

sub close {
    my ($self) = @_;
    CORE::close($self->{sock}) if $self->{sock};
    delete $self->{sock};
}

sub reset {
    my ($self) = @_;
    return unless $self->{sock};
    setsockopt($self->{sock}, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    CORE::close($self->{sock});
    delete $self->{sock};
}

# --------------------------------------------------------------- HTTP/2

package Hotkey::Attack::H2;

use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(time);

sub new {
    my ($class, $t, %o) = @_;
    my $port = $o{port} || $t->nginx_port;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or return undef;
    binmode $s;
    my $self = bless { sock => $s, buf => '', next_id => 1, st => {} }, $class;
    # preface; SETTINGS: MAX_CONCURRENT_STREAMS 65535, INITIAL_WINDOW 1 MiB
    $self->_write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    $self->_frame(4, 0, 0, pack('nN nN', 3, 65535, 4, 1 << 20));
    # the connection's window too
    $self->_frame(8, 0, 0, pack('N', (1 << 30)));
    return $self;
}

sub _write {
    my ($self, $d) = @_;
    my $s = $self->{sock} or return 0;
    while (length $d) {
        my $n = syswrite($s, $d);
        return 0 unless defined $n;
        substr($d, 0, $n, '');
    }
    return 1;
}

sub _frame {
    my ($self, $type, $flags, $id, $payload) = @_;
    my $len = length $payload;
    return $self->_write(pack('nC CC N', $len >> 8, $len & 0xff, $type, $flags,
                              $id & 0x7fffffff) . $payload);
}

sub _int {    # HPACK integer, 7-bit prefix, H = 0
    my ($n) = @_;
    return chr($n) if $n < 127;
    my $o = chr(127);
    $n -= 127;
    while ($n >= 128) { $o .= chr(($n & 127) | 128); $n >>= 7 }
    return $o . chr($n);
}

sub _lit {    # literal without indexing, new name
    my ($k, $v) = @_;
    return "\x00" . _int(length $k) . $k . _int(length $v) . $v;
}

# sends the request; returns its stream id
sub get {
    my ($self, $path, $headers, $method) = @_;
    my $id = $self->{next_id};
    $self->{next_id} += 2;
    my $h = _lit(':method', $method // 'GET') . _lit(':scheme', 'http')
          . _lit(':authority', 'localhost') . _lit(':path', $path);
    my @h = @{ $headers || [] };
    for (my $i = 0; $i < @h; $i += 2) { $h .= _lit(lc $h[$i], $h[$i + 1]) }
    $self->{st}{$id} = { id => $id, body => '', sent_at => time };
    $self->_frame(1, 0x5, $id, $h) or $self->{st}{$id}{error} = 'send failed';
    return $id;
}

sub rst {
    my ($self, $id) = @_;
    $self->_frame(3, 0, $id, pack('N', 8));
}

sub response { $_[0]{st}{$_[1]} }

# :status out of a HEADERS block (nginx sends it first: indexed, or a
# literal with the indexed name :status)
sub _status {
    my ($blk) = @_;
    my %idx = (0x88 => 200, 0x89 => 204, 0x8a => 206, 0x8b => 304,
               0x8c => 400, 0x8d => 404, 0x8e => 500);
    my $b = ord substr($blk, 0, 1);
    return $idx{$b} if $idx{$b};
    if (($b & 0xf0) == 0x00 || ($b & 0xc0) == 0x40 || ($b & 0xf0) == 0x10) {
        my $l = ord substr($blk, 1, 1);
        return substr($blk, 2, $l) if !($l & 0x80) && $l == 3;
    }
    return '?';
}

# reads frames until $o{until}->() is true or the time is out; returns
# 0 on timeout, 1 when until() held, -1 when the connection closed
sub pump {
    my ($self, %o) = @_;
    my $end = time + ($o{timeout} // 5);
    my $until = $o{until} || sub { 0 };
    my $s = $self->{sock} or return -1;
    while (1) {
        while (length($self->{buf}) >= 9) {
            my ($l1, $l2, $type, $flags, $id) = unpack('nC CC N', $self->{buf});
            my $len = ($l1 << 8) | $l2;
            last if length($self->{buf}) < 9 + $len;
            my $p = substr($self->{buf}, 9, $len);
            substr($self->{buf}, 0, 9 + $len, '');
            $id &= 0x7fffffff;
            my $st = $self->{st}{$id};
            if ($type == 4 && !($flags & 1)) {
                $self->_frame(4, 1, 0, '');
            } elsif ($type == 6 && !($flags & 1)) {
                $self->_frame(6, 1, 0, $p);
            } elsif ($type == 1 && $st) {
                my $blk = $p;
                if ($flags & 0x8) {    # padded
                    my $pad = ord substr($blk, 0, 1);
                    $blk = substr($blk, 1, length($blk) - 1 - $pad);
                }
                $blk = substr($blk, 5) if $flags & 0x20;    # priority
                $st->{status} //= _status($blk);
                $st->{done_at} = time, $st->{done} = 1 if $flags & 1;
            } elsif ($type == 0 && $st) {
                my $d = $p;
                if ($flags & 0x8) {
                    my $pad = ord substr($d, 0, 1);
                    $d = substr($d, 1, length($d) - 1 - $pad);
                }
                $st->{body} .= $d;
                if ($len) {    # give the window back
                    $self->_frame(8, 0, 0, pack('N', $len));
                    $self->_frame(8, 0, $id, pack('N', $len)) unless $flags & 1;
                }
                if ($flags & 1) {
                    $st->{done} = 1;
                    $st->{done_at} = time;
                    $st->{json} = eval { Hotkey::Test::json_decode($st->{body}) };
                }
            } elsif ($type == 3 && $st) {
                $st->{reset} = unpack('N', $p);
                $st->{done_at} = time;
            } elsif ($type == 7) {
                $self->{goaway} = unpack('x4 N', $p);
            }
        }
        return 1 if $until->();
        my $left = $end - time;
        return 0 if $left <= 0;
        my $rin = '';
        vec($rin, fileno($s), 1) = 1;
        my $n = select(my $rout = $rin, undef, undef, $left > 0.2 ? 0.2 : $left);
        next unless $n && $n > 0;
        my $got = sysread($s, $self->{buf}, 65536, length $self->{buf});
        if (!$got) {
            $self->{closed} = 1;
            return $until->() ? 1 : -1;
        }
    }
}

# the ids of @$ids still without a whole answer after the timeout
sub wait_done {
    my ($self, $ids, %o) = @_;
    my $all = sub { !grep { !$self->{st}{$_}{done} && !defined $self->{st}{$_}{reset} } @$ids };
    $self->pump(timeout => $o{timeout} // 5, until => $all);
    return grep { !$self->{st}{$_}{done} } @$ids;
}

sub close {
    my ($self) = @_;
    CORE::close($self->{sock}) if $self->{sock};
    delete $self->{sock};
}

sub reset {
    my ($self) = @_;
    return unless $self->{sock};
    setsockopt($self->{sock}, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    CORE::close($self->{sock});
    delete $self->{sock};
}

1;
