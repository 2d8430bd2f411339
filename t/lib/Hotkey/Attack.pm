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
#   collide_bin($t)          -> t/tools/collide.c built into the prefix
#   find_collision($t, $pre, $suf)  -> (a, b, hash): numbers whose strings
#                               "$pre$a$suf" and "$pre$b$suf" have the same
#                               32-bit murmur2 hash (nginx's ngx_murmur_hash2)
#   murmur_range($t, $pre, $suf, $from, $to) -> { n => hash }
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
    worker_list wait_workers cpu_secs cpu_growth idle_check hard_stop pause_store
    resume_store store_calls slow_store junk_store collide_bin
    find_collision murmur_range
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

1;
