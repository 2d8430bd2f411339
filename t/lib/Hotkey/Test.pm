package Hotkey::Test;

# The integration test harness of ngx_http_hotkey_module.
#
# Core Perl modules only.  One object per test file:
#
#   use lib "$FindBin::Bin/lib";
#   use Hotkey::Test qw(:all);
#   my $t = Hotkey::Test->new;            # temp prefix + free ports
#   $t->start_redis;
#   $t->add_instance($iid, project => $pid);
#   $t->start_nginx($t->api_server);      # http{} snippet
#   my $res = $t->get("/v2/$pid/instances/$iid/hotkey-tasks");
#   is_json_error($res, 404, 'DCS.4001', '...', 'name');
#   $t->done;                             # log scan, stop all, done_testing
#
# Methods (see each sub for details):
#   processes  new(workers => 2), prefix, port($name), nginx_port, redis_port,
#              start_redis, stop_redis(save => 1), kill_redis, restart_redis,
#              api_server(%o) -> http{} snippet, write_conf, start_nginx($http),
#              reload($http?) -> (rc, replaced), stop_nginx(fast => 1),
#              nginx_alive, master_pid, worker_pids, wait_ports(@extra),
#              nginx_t($http | $full, full => 1) -> (rc, output)
#   HTTP       raw($bytes, responses => N, heads => [..], port => , timeout => ),
#              request($method, $path, [headers], $body, %opt), get, head,
#              list($pid, $iid, $query, %opt), list_path(...)
#              -> { status, headers{lc name}, header_list, body, json, elapsed }
#   redis      redis(@cmd), redis_pipeline([..], ...), flush_redis,
#              add_instance($iid, project => , policy => ), add_task($iid, %t,
#              raw => {field => value|undef}, no_hash => 1), add_tasks($iid, @t),
#              instance_key, task_key, index_key($iid, $status?)
#   fake store start_fake($name, mode => garbage|wrong_type|error|truncated|
#              silent|close|wrong_shape|proxy|bytes, reply => , to => ,
#              drip => [n, s], close_after => 1) -> port; stop_fake, fake_log
#   logs       log_text, log_mark, log_since($mark), log_tail, allow_log(qr//),
#              bad_log_lines, done (log check + stop + done_testing)
#   exported   is_json_error($res, $status, $code, $msg, $name),
#              is_json_ok($res, $expected, $name), expected_list($iid, \@tasks,
#              offset/limit/status), ms_to_iso, uuid, hex32, free_port,
#              json_encode, json_decode, build_file($name), module_path,
#              private_copy(@files); Hotkey::Test::make_task(%t)
#
# HOTKEY_MODULE   path of the .so (default: <top>/build/ngx_http_hotkey_module.so,
#                 or $HOTKEY_BUILD/ngx_http_hotkey_module.so)
# HOTKEY_NGINX    nginx binary (default /usr/sbin/nginx)
# HOTKEY_REDIS    redis-server binary (default /usr/bin/redis-server)
# HOTKEY_KEEP=1   keep the temp prefix (its path is printed with diag)
# HOTKEY_MODULE=none  no load_module line (to test the harness itself)

use strict;
use warnings;

use Exporter 'import';
use Test::More;
use IO::Socket::INET;
use IO::Select;
use File::Temp ();
use File::Spec;
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use POSIX qw(:sys_wait_h strftime);
use Time::HiRes qw(time sleep);
use JSON::PP ();
use Errno qw(EINTR EAGAIN);

our @EXPORT_OK = qw(
    is_json_error is_json_ok free_port uuid hex32 ms_to_iso
    expected_list json_decode json_encode build_file module_path
    private_copy poll fork_server stop_servers
);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

my $TOP = abs_path(dirname(__FILE__) . '/../../..');

our $JSON = JSON::PP->new->canonical->allow_nonref;

my @ALL;    # every harness object, for cleanup at exit

# ---------------------------------------------------------------- basics

sub new {
    my ($class, %opt) = @_;
    my $keep = $ENV{HOTKEY_KEEP} ? 1 : 0;
    my $dir = File::Temp::tempdir('hotkey-t-XXXXXX', TMPDIR => 1,
                                  CLEANUP => !$keep);
    my $self = bless {
        owner       => $$,
        prefix      => $dir,
        workers     => $opt{workers} // 2,
        nginx_bin   => $ENV{HOTKEY_NGINX} || '/usr/sbin/nginx',
        redis_bin   => $ENV{HOTKEY_REDIS} || '/usr/bin/redis-server',
        module      => module_path(),
        log_level   => $opt{log_level} || 'info',
        timeout     => $opt{timeout} || 10,
        ports       => {},
        fakes       => {},
        allow_log   => [],
        extra_main  => $opt{main} || '',
    }, $class;
    diag("HOTKEY_KEEP: prefix is $dir") if $keep;
    mkdir "$dir/$_" for qw(conf logs redis tmp);
    $self->{nginx_port} = $self->port('nginx');
    $self->{redis_port} = $self->port('redis');
    push @ALL, $self;
    return $self;
}

# build_file($name): a file of the build, in $HOTKEY_BUILD (made absolute)
# when set, else in <top>/build.
sub build_file {
    my ($name) = @_;
    return $ENV{HOTKEY_BUILD} ? abs_path($ENV{HOTKEY_BUILD}) . "/$name"
                              : "$TOP/build/$name";
}

# module_path(): the module under test, $HOTKEY_MODULE or the build's .so.
sub module_path {
    return $ENV{HOTKEY_MODULE} || build_file('ngx_http_hotkey_module.so');
}

# private_copy(@files): the files copied into one new temp dir (removed at
# exit), as others may rebuild build/ while a test runs; returns the copies'
# paths, in the order given.
sub private_copy {
    my $dir = File::Temp::tempdir('hotkey-so-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my @copies;
    for my $f (@_) {
        (my $copy = $f) =~ s{^.*/}{$dir/};
        system('cp', $f, $copy) == 0 or die "cp $f: $?";
        push @copies, $copy;
    }
    return wantarray ? @copies : $copies[0];
}

sub prefix     { $_[0]{prefix} }
sub nginx_port { $_[0]{nginx_port} }
sub redis_port { $_[0]{redis_port} }
sub error_log  { "$_[0]{prefix}/logs/error.log" }
sub top        { $TOP }

# A free TCP port on 127.0.0.1 (bound then released; ports handed out by
# this process are never handed out twice).
my %given;
sub free_port {
    for (1 .. 200) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => 0, Proto => 'tcp',
                                      Listen => 1, ReuseAddr => 0)
            or next;
        my $p = $s->sockport;
        close $s;
        next if $given{$p}++;
        return $p;
    }
    die "no free port";
}

# $t->port('name'): a free port remembered under a name (same name, same port).
sub port {
    my ($self, $name) = @_;
    return $self->{ports}{$name} //= free_port();
}

sub uuid {
    my @h = map { sprintf '%04x', int(rand(65536)) } 1 .. 8;
    return "$h[0]$h[1]-$h[2]-4" . substr($h[3], 1) . '-'
         . (qw(8 9 a b))[int rand 4] . substr($h[4], 1) . "-$h[5]$h[6]$h[7]";
}

sub hex32 {
    return join '', map { sprintf '%04x', int(rand(65536)) } 1 .. 8;
}

sub json_encode { $JSON->encode($_[0]) }
sub json_decode { $JSON->decode($_[0]) }

# Milliseconds since the epoch -> "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC).
sub ms_to_iso {
    my ($ms) = @_;
    my $s = int($ms / 1000);
    return strftime('%Y-%m-%dT%H:%M:%S', gmtime $s)
         . sprintf('.%03dZ', $ms - $s * 1000);
}

# poll($secs, $code, $step): calls $code until it returns true or $secs
# have passed (every $step s, 0.02 by default); returns its last value.
sub poll {
    my ($secs, $code, $step) = @_;
    my $end = time + $secs;
    while (1) {
        my $v = $code->();
        return $v if $v || time >= $end;
        sleep($step // 0.02);
    }
}

# fork_server($serve): a TCP server on 127.0.0.1 in a process group of
# its own, $serve->($conn) in a child per connection; returns its port.
# stop_servers() (and the end of the test) kills them all: those this
# process started, not a forked child's copy of the list.
my @servers;
sub fork_server {
    my ($serve) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 128, ReuseAddr => 1)
        or die "listen: $!";
    my $kid = fork // die "fork: $!";
    if ($kid == 0) {
        setpgrp(0, 0);
        $SIG{CHLD} = 'IGNORE';
        while (1) {
            my $a = $l->accept or next;
            my $k = fork;
            if (defined $k && $k == 0) {
                close $l;
                $serve->($a);
                POSIX::_exit(0);
            }
            close $a;
        }
    }
    push @servers, [$kid, $$];
    return $l->sockport;
}

sub stop_servers {
    my @mine = map { $_->[1] == $$ ? $_->[0] : () } @servers;
    @servers = ();
    return unless @mine;
    kill 'KILL', map { -$_ } @mine;
    waitpid($_, 0) for @mine;
}

sub _wait_port {
    my ($port, $timeout, $pid) = @_;
    my $end = time + ($timeout || 10);
    while (time < $end) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp',
                                      Timeout => 1);
        if ($s) { close $s; return 1 }
        return 0 if $pid && waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    return 0;
}

sub _slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    local $/;
    my $d = <$fh>;
    return $d // '';
}

sub _spew {
    my ($f, $d) = @_;
    open my $fh, '>', $f or die "$f: $!";
    print $fh $d;
    close $fh or die "$f: $!";
}

# ---------------------------------------------------------------- redis

# Starts redis-server on $t->redis_port with its data in <prefix>/redis.
# No periodic saves; stop_redis(save => 1) writes dump.rdb, which the next
# start_redis loads.
sub start_redis {
    my ($self, %opt) = @_;
    my $port = $opt{port} || $self->{redis_port};
    my $dir = "$self->{prefix}/redis";
    my @cmd = ($self->{redis_bin},
        '--port', $port, '--bind', '127.0.0.1', '--dir', $dir,
        '--dbfilename', 'dump.rdb', '--save', '', '--appendonly', 'no',
        '--daemonize', 'no', '--protected-mode', 'no',
        '--logfile', "$dir/redis.log", @{ $opt{args} || [] });
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$dir/redis.out";
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    $self->{redis_pid} = $pid;
    my $end = time + 10;
    while (time < $end) {
        my $r = eval { $self->redis('PING') };
        return 1 if defined $r && !ref $r && $r eq 'PONG';
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{redis_pid};
            die "redis-server exited at start: "
                . _slurp("$dir/redis.log") . _slurp("$dir/redis.out");
        }
        sleep 0.05;
    }
    die "redis-server did not answer PING on port $port";
}

# stop_redis(save => 1): SHUTDOWN SAVE (data comes back on start_redis);
# stop_redis(): SHUTDOWN NOSAVE; kill_redis(): SIGKILL, no save.
sub stop_redis {
    my ($self, %opt) = @_;
    my $pid = delete $self->{redis_pid} or return;
    $self->_redis_close;
    eval {
        my $s = $self->_redis_connect;
        print $s _resp_cmd('SHUTDOWN', $opt{save} ? 'SAVE' : 'NOSAVE');
        my $buf;
        sysread($s, $buf, 100);
        close $s;
    };
    _reap($pid, 10);
}

sub kill_redis {
    my ($self) = @_;
    my $pid = delete $self->{redis_pid} or return;
    $self->_redis_close;
    kill 'KILL', $pid;
    _reap($pid, 5);
}

sub restart_redis {
    my ($self, %opt) = @_;
    $self->stop_redis(save => 1);
    $self->start_redis(%opt);
}

sub _reap {
    my ($pid, $timeout) = @_;
    my $end = time + $timeout;
    while (time < $end) {
        my $w = waitpid($pid, WNOHANG);
        return 1 if $w == $pid || $w == -1;
        sleep 0.02;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return 0;
}

sub _redis_connect {
    my ($self) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $self->{redis_port},
                                  Proto => 'tcp', Timeout => 2)
        or die "connect to redis: $!";
    binmode $s;
    return $s;
}

sub _redis_close {
    my ($self) = @_;
    if (my $s = delete $self->{redis_sock}) { close $s }
    delete $self->{redis_buf};
}

sub _resp_cmd {
    my $out = '*' . scalar(@_) . "\r\n";
    for my $a (@_) {
        my $v = defined $a ? "$a" : '';
        utf8::encode($v) if utf8::is_utf8($v);
        $out .= '$' . length($v) . "\r\n$v\r\n";
    }
    return $out;
}

# Reads one RESP reply from the redis socket.  Returns a scalar for simple
# strings, integers and bulk strings, undef for nil, an array ref for arrays,
# and { err => "..." } for errors.
sub _resp_read {
    my ($self) = @_;
    my $line = $self->_resp_line;
    my ($t, $rest) = (substr($line, 0, 1), substr($line, 1));
    return $rest if $t eq '+' || $t eq ':';
    return { err => $rest } if $t eq '-';
    if ($t eq '$') {
        return undef if $rest < 0;
        my $d = $self->_resp_bytes($rest + 2);
        return substr($d, 0, $rest);
    }
    if ($t eq '*') {
        return undef if $rest < 0;
        return [ map { $self->_resp_read } 1 .. $rest ];
    }
    die "bad RESP from redis: $line";
}

sub _resp_fill {
    my ($self) = @_;
    my $s = $self->{redis_sock};
    my $sel = IO::Select->new($s);
    die "redis read timeout" unless $sel->can_read(10);
    my $n = sysread($s, my $buf, 262144);
    die "redis closed the connection" unless $n;
    $self->{redis_buf} .= $buf;
}

sub _resp_line {
    my ($self) = @_;
    while (1) {
        my $i = index($self->{redis_buf}, "\r\n");
        if ($i >= 0) {
            my $l = substr($self->{redis_buf}, 0, $i);
            substr($self->{redis_buf}, 0, $i + 2, '');
            return $l;
        }
        $self->_resp_fill;
    }
}

sub _resp_bytes {
    my ($self, $n) = @_;
    $self->_resp_fill while length($self->{redis_buf}) < $n;
    return substr($self->{redis_buf}, 0, $n, '');
}

# $t->redis('HSET', $key, f => v): one command, one reply (see _resp_read).
sub redis {
    my ($self, @cmd) = @_;
    return ($self->redis_pipeline(\@cmd))[0];
}

# $t->redis_pipeline([cmd...], [cmd...], ...): sends all, reads all replies
# (in batches of 1000 commands).
sub redis_pipeline {
    my ($self, @cmds) = @_;
    my @out;
    while (my @batch = splice(@cmds, 0, 1000)) {
        # a connection the server closed meanwhile (CONFIG SET timeout,
        # CLIENT KILL, a restart) is replaced before use
        $self->_redis_close
            if $self->{redis_sock}
               && IO::Select->new($self->{redis_sock})->can_read(0);
        $self->{redis_sock} ||= do { $self->{redis_buf} = ''; $self->_redis_connect };
        my $ok = eval {
            my $data = join '', map { _resp_cmd(@$_) } @batch;
            my $s = $self->{redis_sock};
            while (length $data) {
                my $n = syswrite($s, $data);
                die "redis write: $!" unless defined $n;
                substr($data, 0, $n, '');
            }
            push @out, $self->_resp_read for @batch;
            1;
        };
        unless ($ok) {
            my $e = $@;
            $self->_redis_close;
            die $e;
        }
    }
    return @out;
}

sub flush_redis { $_[0]->redis('FLUSHALL') }

# ---------------------------------------------------------------- fixtures

sub instance_key { "hotkey:{$_[1]}:instance" }
sub task_key     { "hotkey:{$_[1]}:task:$_[2]" }
sub index_key    { "hotkey:{$_[1]}:tasks" . (defined $_[2] ? ":$_[2]" : '') }

# add_instance($iid, project => $pid, policy => 'allkeys-lfu')
# policy => undef leaves the eviction_policy field out.
sub add_instance {
    my ($self, $iid, %o) = @_;
    my @f;
    push @f, project_id => $o{project} if defined $o{project};
    my $policy = exists $o{policy} ? $o{policy} : 'allkeys-lfu';
    push @f, eviction_policy => $policy if defined $policy;
    $self->redis('DEL', $self->instance_key($iid));
    $self->redis('HSET', $self->instance_key($iid), @f) if @f;
    return $iid;
}

my $task_seq = 0;

# A task with defaults filled in: id (random uuid), status (success),
# scan_type (manual), created_at; started_at/finished_at default from the
# status (waiting: none; running: started; success/failed: both).  Pass
# undef explicitly to leave a time out.
sub make_task {
    my (%o) = @_;
    my %t;
    $t{id} = $o{id} // uuid();
    $t{status} = $o{status} // 'success';
    $t{scan_type} = $o{scan_type} // 'manual';
    $t{created_at} = $o{created_at} // (1592187678669 + 1000 * $task_seq++);
    my $st = $t{status};
    for my $f (qw(started_at finished_at)) {
        if (exists $o{$f}) {
            $t{$f} = $o{$f} if defined $o{$f};
            next;
        }
        next if $st eq 'waiting';
        next if $f eq 'finished_at' && $st eq 'running';
        $t{$f} = $t{created_at} + ($f eq 'started_at' ? 4865 : 6919);
    }
    $t{$_} = $o{$_} for grep { /^_/ } keys %o;    # private extras
    return \%t;
}

sub _task_cmds {
    my ($self, $iid, $t, %o) = @_;
    my @f = map { ($_ => $t->{$_}) }
            grep { defined $t->{$_} && !/^_/ }
            qw(id status scan_type created_at started_at finished_at);
    # raw field overrides for bad records: value undef deletes the field
    my %raw = %{ $o{raw} || {} };
    my %skip = map { $_ => 1 } keys %raw;
    my @keep;
    for (my $i = 0; $i < @f; $i += 2) {
        push @keep, $f[$i], $f[$i + 1] unless $skip{ $f[$i] };
    }
    my @set = map { ($_ => $raw{$_}) } grep { defined $raw{$_} } sort keys %raw;
    my @cmds = (['HSET', $self->task_key($iid, $t->{id}), @keep, @set]);
    my $score = $o{score} // $t->{created_at};
    my $zst = $o{index_status} // $t->{status};
    push @cmds, ['ZADD', $self->index_key($iid), $score, $t->{id}];
    push @cmds, ['ZADD', $self->index_key($iid, $zst), $score, $t->{id}];
    return @cmds;
}

# add_task($iid, id => ..., status => ..., scan_type => ..., created_at => ms,
#          started_at => ms|undef, finished_at => ms|undef,
#          raw => { field => 'bad value' }, no_hash => 1)
# Writes the task hash, the index zset and the status zset.  Returns the
# task (a hash ref with the values written).
sub add_task {
    my ($self, $iid, %o) = @_;
    my $raw = delete $o{raw};
    my $no_hash = delete $o{no_hash};
    my $t = make_task(%o);
    my @cmds = $self->_task_cmds($iid, $t, raw => $raw);
    shift @cmds if $no_hash;
    $self->redis_pipeline(@cmds);
    return $t;
}

# add_tasks($iid, @tasks): bulk load of make_task() hashes (or hashes of
# options), pipelined.  Returns the task list.
sub add_tasks {
    my ($self, $iid, @tasks) = @_;
    @tasks = map { exists $_->{id} && exists $_->{created_at} ? $_ : make_task(%$_) }
             @tasks;
    my @cmds = map { $self->_task_cmds($iid, $_) } @tasks;
    my @r = $self->redis_pipeline(@cmds);
    for (@r) {
        die "redis error in bulk load: $_->{err}" if ref $_ eq 'HASH';
    }
    return @tasks;
}

# The record the API should show for a task.
sub expected_record {
    my ($t) = @_;
    my %r = (id => $t->{id}, status => $t->{status},
             scan_type => $t->{scan_type});
    for (qw(created_at started_at finished_at)) {
        $r{$_} = ms_to_iso($t->{$_}) if defined $t->{$_};
    }
    return \%r;
}

# expected_list($iid, \@tasks, offset => , limit => , status => ): the
# decoded body the API should answer, computed from the fixtures.
sub expected_list {
    my ($iid, $tasks, %q) = @_;
    my @m = grep { !defined $q{status} || $_->{status} eq $q{status} } @$tasks;
    @m = sort { $b->{created_at} <=> $a->{created_at} || $b->{id} cmp $a->{id} } @m;
    my $off = $q{offset} // 0;
    my $lim = $q{limit} // 10;
    my @page = $off < @m ? @m[$off .. ($off + $lim - 1 < $#m ? $off + $lim - 1 : $#m)] : ();
    return { instance_id => $iid, count => scalar(@m),
             records => [ map { expected_record($_) } @page ] };
}

# ---------------------------------------------------------------- nginx

# The http{} snippet of one API server:
#   api_server(port => , store => 'host:port' | upstream name,
#              upstream => 1 (default: an upstream block 'hotkey_store' with
#              keepalive), read_timeout => '300ms', extra => 'directives',
#              server_extra => '...', location => '/v2/')
sub api_server {
    my ($self, %o) = @_;
    my $port = $o{port} || $self->{nginx_port};
    my $store_addr = $o{store_addr} || "127.0.0.1:$self->{redis_port}";
    my $name = $o{upstream_name} || 'hotkey_store_' . $port;
    my $conf = '';
    my $store;
    if (defined $o{store}) {
        $store = $o{store};
    } elsif ($o{upstream} // 1) {
        $conf .= "    upstream $name {\n        server $store_addr;\n"
               . "        keepalive 8;\n    }\n";
        $store = $name;
    } else {
        $store = $store_addr;
    }
    my $loc = $o{location} || '/v2/';
    my $extra = $o{extra} // '';
    $o{server_extra} //= '';
    $extra .= "            hotkey_store_read_timeout $o{read_timeout};\n"
        if $o{read_timeout};
    $conf .= <<"EOF";
    server {
        listen 127.0.0.1:$port;
        server_name localhost;
$o{server_extra}
        location $loc {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store $store;
$extra
        }
    }
EOF
    $conf =~ s/^\n//mg;
    return $conf;
}

sub _main_conf {
    my ($self, $http, %o) = @_;
    my $p = $self->{prefix};
    my $user = $> == 0 ? "user root;\n" : '';
    my $elog = $o{error_log} || "$p/logs/error.log";
    # HOTKEY_MODULE=none: no load_module (to test the harness itself)
    my $load = $self->{module} eq 'none' ? '' : "load_module $self->{module};";
    return <<"EOF";
$load
$user
worker_processes $self->{workers};
master_process on;
daemon on;
pid $p/logs/nginx.pid;
error_log $elog $self->{log_level};
$self->{extra_main}
events {
    worker_connections 1024;
}

http {
    access_log $p/logs/access.log;
    client_body_temp_path $p/tmp/client_body;
    proxy_temp_path $p/tmp/proxy;
    fastcgi_temp_path $p/tmp/fastcgi;
    uwsgi_temp_path $p/tmp/uwsgi;
    scgi_temp_path $p/tmp/scgi;
    default_type application/octet-stream;

$http
}
EOF
}

# The module is copied into the prefix once, so that a rebuild during the
# test (others share the checkout) cannot hand nginx a half-written file,
# and every start, reload and nginx -t of one test file loads the same .so.
sub _check_module {
    my ($self) = @_;
    return if $self->{module} eq 'none' || $self->{module_copied};
    BAIL_OUT("module not built: $self->{module} is missing (run make build)")
        unless -f $self->{module};
    my $copy = "$self->{prefix}/ngx_http_hotkey_module.so";
    for (1 .. 50) {    # a file written in the last second may be in the works
        my @st = stat $self->{module};
        last if @st && time - $st[9] >= 1;
        sleep 0.1;
    }
    system('cp', $self->{module}, $copy) == 0 or die "cp $self->{module}: $?";
    $self->{module} = $copy;
    $self->{module_copied} = 1;
}

# write_conf($http_snippet): writes <prefix>/conf/nginx.conf.
sub write_conf {
    my ($self, $http) = @_;
    $self->_check_module;
    $self->{http} = $http;
    _spew("$self->{prefix}/conf/nginx.conf", $self->_main_conf($http));
}

sub _nginx_cmd {
    my ($self, @args) = @_;
    my $p = $self->{prefix};
    my $out = "$p/logs/nginx-cmd.out";
    my $cmd = join ' ', map { "'$_'" } $self->{nginx_bin}, '-p', "$p/",
              '-c', "$p/conf/nginx.conf", '-e', "$p/logs/error.log", @args;
    system("$cmd >'$out' 2>&1 </dev/null");
    return ($? >> 8, _slurp($out));
}

sub master_pid {
    my ($self) = @_;
    my $pid = _slurp("$self->{prefix}/logs/nginx.pid");
    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

# The pids of the master's children (workers, cache manager...).
sub worker_pids {
    my ($self, $master) = @_;
    $master //= $self->master_pid or return ();
    my @w;
    opendir my $d, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $d) {
        my $stat = _slurp("/proc/$pid/stat") or next;
        $stat =~ s/^.*\)\s+//s;             # past "pid (comm) "
        my ($state, $ppid) = split ' ', $stat;
        push @w, $pid if $ppid == $master && $state ne 'Z';
    }
    @w = sort { $a <=> $b } @w;
    return @w;
}

# start_nginx($http_snippet): writes the config, starts nginx, waits until
# $t->nginx_port accepts.  Dies (with the error log) on failure.
sub start_nginx {
    my ($self, $http) = @_;
    $self->_check_module;
    $self->write_conf($http) if defined $http;
    my ($rc, $out) = $self->_nginx_cmd();
    if ($rc != 0) {
        die "nginx failed to start (rc $rc): $out\n" . $self->log_tail;
    }
    my $end = time + 5;
    sleep 0.02 until $self->master_pid || time > $end;
    $self->{nginx_master} = $self->master_pid
        or die "nginx wrote no pid file\n" . $self->log_tail;
    for my $port ($self->{nginx_port}, @{ $self->{listen_ports} || [] }) {
        _wait_port($port, 5) or die "nginx does not accept on $port\n" . $self->log_tail;
    }
    # the workers are up when the master has them all
    $end = time + 5;
    sleep 0.02 while scalar(my @w = $self->worker_pids) < $self->{workers}
                     && time < $end;
    return 1;
}

# Extra listening ports to wait for at start (besides nginx_port).
sub wait_ports { my $self = shift; $self->{listen_ports} = [@_] }

sub nginx_alive {
    my ($self) = @_;
    my $m = $self->{nginx_master} or return 0;
    return _alive($m);
}

# A process that exists and is not a zombie (the daemonized master is
# reaped by whatever init there is, maybe late).
sub _alive {
    my ($pid) = @_;
    return 0 unless kill 0, $pid;
    my $stat = _slurp("/proc/$pid/stat");
    return 1 unless length $stat;
    $stat =~ s/^.*\)\s+//s;
    return $stat =~ /^Z/ ? 0 : 1;
}

# reload($new_http_snippet?): nginx -s reload, then waits until the old
# workers are gone (at most 5s) and the port accepts.  Returns the rc of
# nginx -s reload and true if new workers replaced the old ones.
sub reload {
    my ($self, $http) = @_;
    $self->write_conf($http) if defined $http;
    my @old = $self->worker_pids;
    my ($rc, $out) = $self->_nginx_cmd('-s', 'reload');
    return ($rc, 0, $out) if $rc != 0;
    my $end = time + 5;
    my $replaced = 0;
    while (time < $end) {
        my %now = map { $_ => 1 } $self->worker_pids;
        my $old_left = grep { $now{$_} } @old;
        my $new = grep { my $p = $_; !grep { $_ == $p } @old } keys %now;
        if (!$old_left && $new >= $self->{workers}) { $replaced = 1; last }
        sleep 0.05;
    }
    _wait_port($self->{nginx_port}, 5);
    return ($rc, $replaced, $out);
}

# stop_nginx(fast => 1): nginx -s stop instead of quit; waits for the master.
# signal => 1: signals the master itself instead of running nginx -s (which
# parses the configuration first, and fails once a module it uses is gone).
sub stop_nginx {
    my ($self, %o) = @_;
    my $m = delete $self->{nginx_master} or return;
    if ($o{signal}) {
        kill $o{fast} ? 'TERM' : 'QUIT', $m;
    } else {
        $self->_nginx_cmd('-s', $o{fast} ? 'stop' : 'quit');
    }
    my $end = time + 10;
    sleep 0.02 while _alive($m) && time < $end;
    if (_alive($m)) {
        kill 'TERM', $m;
        sleep 1;
        kill 'KILL', $m, $self->worker_pids($m);
    }
}

# nginx_t($text, full => 1): runs nginx -t on a config: by default $text is
# an http{} snippet put in the usual template; with full => 1 it is the
# whole file.  Uses its own config and error log files, so the test's error
# log stays clean.  Returns (exit code, output).
sub nginx_t {
    my ($self, $text, %o) = @_;
    $self->_check_module;
    my $p = $self->{prefix};
    my $n = ++$self->{nginx_t_seq};
    my $conf = "$p/conf/t-$n.conf";
    my $elog = "$p/logs/t-$n.log";
    _spew($conf, $o{full} ? $text : $self->_main_conf($text, error_log => $elog));
    my $out = "$p/logs/t-$n.out";
    my $cmd = join ' ', map { "'$_'" } $self->{nginx_bin}, '-t', '-p', "$p/",
              '-c', $conf, '-e', $elog;
    system("$cmd >'$out' 2>&1 </dev/null");
    my $rc = $? >> 8;
    return ($rc, _slurp($out) . _slurp($elog));
}

# ---------------------------------------------------------------- logs

sub log_text { _slurp($_[0]->error_log) }

# A mark in the error log, for log_since($mark).
sub log_mark { -s $_[0]->error_log || 0 }

sub log_since {
    my ($self, $mark) = @_;
    my $all = $self->log_text;
    return substr($all, $mark // 0);
}

sub log_tail {
    my ($self, $n) = @_;
    my @l = split /\n/, $self->log_text;
    $n ||= 30;
    @l = @l[-$n .. -1] if @l > $n;
    return "--- error log tail:\n" . join("\n", @l) . "\n";
}

# allow_log(qr/.../): a log line matching this is not counted by done().
sub allow_log { my $self = shift; push @{ $self->{allow_log} }, @_ }

# The [alert]/[crit]/[emerg] lines of the error log, and worker exits.
sub bad_log_lines {
    my ($self) = @_;
    my @bad;
    for my $l (split /\n/, $self->log_text) {
        next unless $l =~ /\[(alert|crit|emerg)\]/ || $l =~ /exited on signal/;
        next if grep { $l =~ $_ } @{ $self->{allow_log} };
        push @bad, $l;
    }
    return @bad;
}

# done(): fails a test if the error log has [alert], [crit] or [emerg]
# lines; stops nginx, fake stores and redis; calls done_testing.
sub done {
    my ($self, %o) = @_;
    $self->stop_nginx;
    my @bad = $self->bad_log_lines;
    ok(!@bad, 'no [alert], [crit] or [emerg] in the error log')
        or diag(join "\n", @bad[0 .. ($#bad < 20 ? $#bad : 19)]);
    $self->cleanup;
    done_testing() unless $o{no_done_testing};
}

sub cleanup {
    my ($self) = @_;
    return unless $self->{owner} == $$;
    $self->stop_nginx(fast => 1);
    $self->stop_fake($_) for keys %{ $self->{fakes} };
    $self->stop_redis;
}

END {
    my $rc = $?;
    stop_servers();
    $_->cleanup for @ALL;
    $? = $rc;
}

# ---------------------------------------------------------------- HTTP

# raw($bytes, %opt): sends bytes on a new connection to nginx_port (or
# port => ...), reads one response (or responses => N of them on the same
# connection).  opt: head => 1 (the response has no body), timeout => s,
# keep => 1 (do not shut down writing after sending).
# Returns a hash ref: status, reason, version, headers (lowercased name =>
# value; several values joined with ", "), header_list ([name, value]...),
# body, json (decoded when Content-Type is application/json), raw, elapsed;
# status is undef if the server closed without an answer (error => why).
sub raw {
    my ($self, $bytes, %o) = @_;
    my $t0 = time;
    my $port = $o{port} || $self->{nginx_port};
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or return { status => undef, error => "connect: $!", elapsed => time - $t0 };
    binmode $s;
    my $data = $bytes;
    while (length $data) {
        my $n = syswrite($s, $data);
        last unless defined $n;  # the server may close early (e.g. 414)
        substr($data, 0, $n, '');
    }
    my $st = { sock => $s, buf => '', eof => 0,
               deadline => time + ($o{timeout} || $self->{timeout}) };
    my $n = $o{responses} || 1;
    my @heads = @{ $o{heads} || [ ($o{head} ? 1 : 0) x $n ] };
    my @res;
    for my $i (0 .. $n - 1) {
        my $r = _read_response($st, $heads[$i]);
        $r->{elapsed} = time - $t0;
        push @res, $r;
        last unless defined $r->{status};
    }
    close $s;
    return $n == 1 ? $res[0] : \@res;
}

sub _fill {
    my ($st) = @_;
    return 0 if $st->{eof};
    my $left = $st->{deadline} - time;
    return 0 if $left <= 0;
    my $sel = IO::Select->new($st->{sock});
    return 0 unless $sel->can_read($left);
    my $n = sysread($st->{sock}, my $buf, 65536);
    if (!$n) { $st->{eof} = 1; return 0 }
    $st->{buf} .= $buf;
    return 1;
}

sub _read_response {
    my ($st, $head) = @_;
    my $r = { status => undef, headers => {}, header_list => [] };
    my $i;
    while (($i = index($st->{buf}, "\r\n\r\n")) < 0) {
        unless (_fill($st)) {
            $r->{error} = $st->{eof} ? 'closed before the headers' : 'timeout';
            $r->{raw} = $st->{buf};
            return $r;
        }
    }
    my $hdr = substr($st->{buf}, 0, $i + 4, '');
    $r->{raw} = $hdr;
    my @lines = split /\r\n/, $hdr;
    my $sl = shift @lines;
    unless ($sl =~ m{^HTTP/(\d\.\d) (\d{3})(?: (.*))?$}) {
        $r->{error} = "bad status line: $sl";
        return $r;
    }
    @$r{qw(version status reason)} = ($1, $2, $3 // '');
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
        push @{ $r->{header_list} }, [$k, $v];
        my $lk = lc $k;
        $r->{headers}{$lk} = exists $r->{headers}{$lk}
                           ? "$r->{headers}{$lk}, $v" : $v;
    }
    my $h = $r->{headers};
    my $body = '';
    if ($head || $r->{status} =~ /^(1..|204|304)$/) {
        # no body
    } elsif (($h->{'transfer-encoding'} // '') =~ /chunked/i) {
        while (1) {
            my $j;
            while (($j = index($st->{buf}, "\r\n")) < 0) {
                _fill($st) or do { $r->{error} = 'truncated chunk'; last };
            }
            last if $j < 0;
            my $line = substr($st->{buf}, 0, $j + 2, '');
            my ($len) = $line =~ /^([0-9a-fA-F]+)/;
            unless (defined $len) { $r->{error} = "bad chunk: $line"; last }
            $len = hex $len;
            if ($len == 0) {
                # trailers up to the empty line
                while (1) {
                    while (($j = index($st->{buf}, "\r\n")) < 0) {
                        _fill($st) or last;
                    }
                    last if $j < 0;
                    my $tl = substr($st->{buf}, 0, $j + 2, '');
                    last if $tl eq "\r\n";
                }
                last;
            }
            while (length($st->{buf}) < $len + 2) {
                _fill($st) or do { $r->{error} = 'truncated chunk'; last };
            }
            $body .= substr($st->{buf}, 0, $len, '');
            substr($st->{buf}, 0, 2, '');
            last if $r->{error};
        }
    } elsif (defined $h->{'content-length'}) {
        my $len = $h->{'content-length'};
        $len =~ s/,.*//;
        while (length($st->{buf}) < $len) {
            _fill($st) or do { $r->{error} = 'truncated body'; last };
        }
        $body = substr($st->{buf}, 0, $len, '');
    } else {
        1 while _fill($st);
        $body = $st->{buf};
        $st->{buf} = '';
    }
    $r->{body} = $body;
    $r->{raw} .= $body;
    if (($h->{'content-type'} // '') =~ m{^application/json\s*(;|$)}i
        && length $body)
    {
        $r->{json} = eval { $JSON->decode($body) };
        $r->{json_error} = $@ if $@;
    }
    return $r;
}

# request($method, $path, \%headers | [k, v, ...], $body, %opt)
# Sends an HTTP/1.1 request with Host and Connection: close (unless given).
sub request {
    my ($self, $method, $path, $headers, $body, %o) = @_;
    my @h = ref $headers eq 'HASH' ? %$headers : @{ $headers || [] };
    my %seen = map { lc($_) => 1 } @h[grep { !($_ % 2) } 0 .. $#h];
    push @h, Host => 'localhost' unless $seen{host};
    push @h, Connection => 'close' unless $seen{connection};
    push @h, 'Content-Length' => length($body)
        if defined $body && !$seen{'content-length'}
           && !$seen{'transfer-encoding'};
    my $req = "$method $path HTTP/1.1\r\n";
    for (my $i = 0; $i < @h; $i += 2) { $req .= "$h[$i]: $h[$i + 1]\r\n" }
    $req .= "\r\n" . ($body // '');
    return $self->raw($req, head => $method eq 'HEAD', %o);
}

sub get  { my ($self, $path, @h) = @_; $self->request('GET',  $path, \@h) }
sub head { my ($self, $path, @h) = @_; $self->request('HEAD', $path, \@h) }

# $t->list($pid, $iid, $query, %opt): GET the list route (query without '?').
sub list_path {
    my ($self, $pid, $iid, $q) = @_;
    return "/v2/$pid/instances/$iid/hotkey-tasks"
         . (defined $q && length $q ? "?$q" : '');
}

sub list {
    my ($self, $pid, $iid, $q, %o) = @_;
    return $self->request('GET', $self->list_path($pid, $iid, $q), [], undef, %o);
}

# ---------------------------------------------------------------- asserts

sub _is_json_ct {
    my ($ct) = @_;
    return defined $ct && $ct =~ m{^application/json\s*(;\s*charset=utf-8\s*)?$}i;
}

sub _res_summary {
    my ($res) = @_;
    return 'no response (' . ($res->{error} // '?') . ')' unless defined $res->{status};
    my $b = $res->{body} // '';
    $b = substr($b, 0, 300) . '...' if length $b > 300;
    return "got $res->{status}, Content-Type "
         . ($res->{headers}{'content-type'} // '(none)') . ", body: $b";
}

# is_json_error($res, $status, $code, $msg, $name): the status, a JSON
# Content-Type, and a body with exactly error_code, error_msg and
# error_ext_msg (null).  $msg may be a string or a qr//.
sub is_json_error {
    my ($res, $status, $code, $msg, $name) = @_;
    my $tb = Test::More->builder;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @why;
    push @why, "status: expected $status" unless ($res->{status} // 0) == $status;
    push @why, 'Content-Type is not application/json'
        unless _is_json_ct($res->{headers}{'content-type'});
    my $j = $res->{json};
    if (ref $j ne 'HASH') {
        push @why, 'body is not a JSON object';
    } else {
        my @k = sort keys %$j;
        push @why, "body keys are (@k), expected (error_code error_ext_msg error_msg)"
            unless "@k" eq 'error_code error_ext_msg error_msg';
        push @why, "error_code: expected $code, got " . ($j->{error_code} // 'undef')
            unless defined $j->{error_code} && !ref $j->{error_code}
                   && $j->{error_code} eq $code;
        my $m = $j->{error_msg};
        my $okm = defined $m && !ref $m
                  && (ref $msg eq 'Regexp' ? $m =~ $msg : $m eq $msg);
        push @why, "error_msg: expected '$msg', got '" . ($m // 'undef') . "'"
            unless $okm;
        push @why, 'error_ext_msg is not null'
            if exists $j->{error_ext_msg} && defined $j->{error_ext_msg};
    }
    my $ok = $tb->ok(!@why, $name);
    $tb->diag(join("\n", @why, _res_summary($res))) unless $ok;
    return $ok;
}

# is_json_ok($res, $expected, $name): 200, JSON Content-Type, and the
# decoded body deeply equal to $expected (a data structure).
sub is_json_ok {
    my ($res, $exp, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $tb = Test::More->builder;
    my @why;
    push @why, 'status is not 200' unless ($res->{status} // 0) == 200;
    push @why, 'Content-Type is not application/json'
        unless _is_json_ct($res->{headers}{'content-type'});
    if (@why) {
        $tb->ok(0, $name);
        $tb->diag(join("\n", @why, _res_summary($res)));
        return 0;
    }
    return is_deeply($res->{json}, $exp, $name)
        || do { $tb->diag(_res_summary($res)); 0 };
}

# ---------------------------------------------------------------- fake store

# start_fake($name, mode => ..., port => ...): a forked TCP server on a free
# port ($t->port($name)) that answers every command it reads:
#   mode => 'bytes', reply => "..."  : those bytes for every command
#   mode => 'garbage'                 : non-RESP text, then close
#   mode => 'wrong_type'              : ":42\r\n" (an integer)
#   mode => 'error'                   : "-ERR ...\r\n"
#   mode => 'truncated'               : half a reply, then close
#   mode => 'silent'                  : reads, never answers, keeps the
#                                       connection open
#   mode => 'close'                   : closes at once after reading
#   mode => 'wrong_shape'             : valid RESP, wrong structure
#   mode => 'proxy', to => $port      : forwards each command to the real
#                                       redis on $port, returns its reply
#   drip => [$bytes, $seconds]        : write the reply $bytes at a time,
#                                       sleeping $seconds in between
#   close_after => 1                  : close after the first reply
#   reply => sub { my ($cmd_array_ref) = @_; return $bytes }   (any mode)
# Each connection is served by its own process.  Returns the port.
my %FAKE = (
    garbage     => { reply => "HTTP/1.1 200 OK\r\nthis is not RESP at all\r\n\r\n",
                     close_after => 1 },
    wrong_type  => { reply => ":42\r\n" },
    error       => { reply => "-ERR fake store says no\r\n" },
    truncated   => { reply => "*3\r\n\$36\r\nabcdefgh-", close_after => 1 },
    silent      => { silent => 1 },
    close       => { reply => '', close_after => 1 },
    wrong_shape => { reply => "*2\r\n*1\r\n:1\r\n\$3\r\nfoo\r\n" },
    proxy       => {},
);

sub start_fake {
    my ($self, $name, %o) = @_;
    my $mode = $o{mode} || 'bytes';
    my %m = (%{ $FAKE{$mode} || {} }, %o);
    my $port = $o{port} || $self->port($name);
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                    Proto => 'tcp', Listen => 64, ReuseAddr => 1)
        or die "fake store $name: listen on $port: $!";
    my $log = "$self->{prefix}/logs/fake-$name.log";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        @ALL = ();
        $SIG{CHLD} = 'IGNORE';
        $SIG{TERM} = sub { POSIX::_exit(0) };
        open my $lf, '>>', $log;
        select((select($lf), $| = 1)[0]);
        while (1) {
            my $c = $srv->accept or next;
            my $k = fork;
            if (defined $k && $k == 0) {
                $SIG{TERM} = 'DEFAULT';
                close $srv;
                _fake_conn($c, \%m, $lf);
                POSIX::_exit(0);
            }
            close $c;
        }
    }
    close $srv;
    $self->{fakes}{$name} = $pid;
    return $port;
}

sub stop_fake {
    my ($self, $name) = @_;
    my $pid = delete $self->{fakes}{$name} or return;
    kill 'TERM', $pid;
    _reap($pid, 5);
}

# Lines the fake store logged (one per command read), for checks.
sub fake_log { _slurp("$_[0]{prefix}/logs/fake-$_[1].log") }

sub _fake_conn {
    my ($c, $m, $lf) = @_;
    binmode $c;
    my $buf = '';
    my $sel = IO::Select->new($c);
    while (1) {
        # read one RESP command (an array of bulk strings), or a line
        my $cmd;
        while (1) {
            $cmd = _parse_cmd(\$buf);
            last if $cmd;
            $sel->can_read(30) or return;
            my $n = sysread($c, my $d, 65536);
            return unless $n;
            $buf .= $d;
        }
        print $lf join(' ', map { length > 60 ? substr($_, 0, 60) . '...' : $_ } @$cmd), "\n";
        if ($m->{silent}) {
            # hold the connection, answer nothing, until the peer closes
            while ($sel->can_read(30)) {
                my $n = sysread($c, my $d, 65536);
                return unless $n;
            }
            return;
        }
        my $reply = ref $m->{reply} eq 'CODE' ? $m->{reply}->($cmd) : $m->{reply};
        $reply = _proxy($m->{to}, $cmd) if $m->{to};
        $reply //= '';
        my ($chunk, $delay) = @{ $m->{drip} || [65536, 0] };
        while (length $reply) {
            my $n = syswrite($c, $reply, $chunk);
            return unless defined $n;
            substr($reply, 0, $n, '');
            sleep $delay if $delay && length $reply;
        }
        return if $m->{close_after};
    }
}

# Sends a command to the real redis on $port, returns the raw reply bytes.
sub _proxy {
    my ($port, $cmd) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 2) or return '';
    binmode $s;
    print $s _resp_cmd(@$cmd);
    my $buf = '';
    my $sel = IO::Select->new($s);
    while ($sel->can_read(5)) {
        my $n = sysread($s, my $d, 65536) or last;
        $buf .= $d;
        my $pos = 0;
        last if _resp_end(\$buf, \$pos) && $pos == length $buf;
    }
    close $s;
    return $buf;
}

# True when one complete RESP value starts at $$pos (which it moves past).
sub _resp_end {
    my ($b, $pos) = @_;
    my $i = index($$b, "\r\n", $$pos);
    return 0 if $i < 0;
    my $t = substr($$b, $$pos, 1);
    my $v = substr($$b, $$pos + 1, $i - $$pos - 1);
    $$pos = $i + 2;
    if ($t eq '$') {
        return 1 if $v < 0;
        return 0 if length($$b) < $$pos + $v + 2;
        $$pos += $v + 2;
        return 1;
    }
    if ($t eq '*') {
        for (1 .. ($v < 0 ? 0 : $v)) { _resp_end($b, $pos) or return 0 }
        return 1;
    }
    return 1;
}

sub _parse_cmd {
    my ($bref) = @_;
    my $b = $$bref;
    return undef unless length $b;
    if (substr($b, 0, 1) ne '*') {
        my $i = index($b, "\r\n");
        return undef if $i < 0;
        my $l = substr($$bref, 0, $i + 2, '');
        $l =~ s/\r\n$//;
        return [ split ' ', $l ];
    }
    my $pos = 0;
    my $i = index($b, "\r\n", $pos);
    return undef if $i < 0;
    my $n = substr($b, 1, $i - 1);
    $pos = $i + 2;
    my @a;
    for (1 .. $n) {
        $i = index($b, "\r\n", $pos);
        return undef if $i < 0;
        my $len = substr($b, $pos + 1, $i - $pos - 1);
        $pos = $i + 2;
        return undef if length($b) < $pos + $len + 2;
        push @a, substr($b, $pos, $len);
        $pos += $len + 2;
    }
    substr($$bref, 0, $pos, '');
    return \@a;
}

1;
