#!/usr/bin/perl
# `make run` / `make stop` end to end: scripts/run.sh with free ports and a
# temp RUN_DIR (a developer's run/ is not touched):
#   - it starts redis-server and nginx, loads the demo data, writes
#     demo.env, prints requests that work when pasted;
#   - the demo instance lists its tasks (28, newest first, the tie broken
#     by id), the allkeys-lru one gives 400 DCS.4922;
#   - running it again while all runs is a no-op (same pids);
#   - after redis-server is killed (-9), it comes back with the data,
#     including a change made after the demo load; nginx is left alone;
#   - scripts/stop.sh stops both, and is happy to run again.
#
# Standalone: core Perl modules only. HOTKEY_MODULE / HOTKEY_BUILD as for
# t/lib/Hotkey/Test.pm.
use strict;
use warnings;
use Test::More;
use FindBin;
use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(sleep);

my $top = abs_path("$FindBin::Bin/..");
my $module = $ENV{HOTKEY_MODULE}
    || ($ENV{HOTKEY_BUILD} ? abs_path($ENV{HOTKEY_BUILD}) . '/ngx_http_hotkey_module.so'
                           : "$top/build/ngx_http_hotkey_module.so");

plan skip_all => "module not built ($module): run make build" unless -f $module;
for my $bin (qw(redis-server redis-cli curl)) {
    plan skip_all => "$bin not installed"
        unless grep { -x "$_/$bin" } split /:/, $ENV{PATH};
}

# a private copy: others may rebuild build/ while this test runs
if (-f $module) {
    my $copy = tempdir('hotkey-so-XXXXXX', TMPDIR => 1, CLEANUP => 1)
               . '/ngx_http_hotkey_module.so';
    system('cp', $module, $copy) == 0 or die "cp $module: $?";
    $module = $copy;
}

my %given;
sub free_port {
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                      Proto => 'tcp', Listen => 1) or next;
        my $p = $s->sockport;
        close $s;
        return $p unless $given{$p}++;
    }
    die "no free port";
}

sub slurp { my ($f) = @_; open my $fh, '<', $f or return undef; local $/; <$fh> }

sub pid_of {
    my ($file) = @_;
    my $s = slurp($file) // return undef;
    return $s =~ /(\d+)/ ? $1 : undef;
}

# alive(pid): exists and is not a zombie
sub alive {
    my ($pid) = @_;
    return 0 unless $pid && kill 0, $pid;
    my $st = slurp("/proc/$pid/status") // return 1;
    return $st !~ /^State:\s*[ZX]/m;
}

my $run_dir = tempdir('hotkey-quickstart-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $port = free_port();
my $redis_port = free_port();
my %env = (RUN_DIR => $run_dir, PORT => $port, REDIS_PORT => $redis_port,
           MODULE => $module);

sub script {
    my ($name) = @_;
    local @ENV{keys %env} = values %env;
    my $out = `'$top/scripts/$name' 2>&1`;
    return ($? >> 8, $out);
}

my $stopped = 0;
END { script('stop.sh') unless $stopped }

my $http = HTTP::Tiny->new(timeout => 5);
sub get_json {
    my ($url) = @_;
    my $r = $http->get($url);
    my $j = eval { decode_json($r->{content}) };
    return ($r, $j);
}

# ------------------------------------------------------------------ start

my ($rc, $out) = script('run.sh');
is($rc, 0, 'run.sh succeeds') or diag($out);
like($out, qr{http://127\.0\.0\.1:$port/}, 'it prints the URL');

my %demo;
for (split /\n/, slurp("$run_dir/demo.env") // '') {
    $demo{$1} = $2 if /^([A-Z_]+)=(.*)$/;
}
my $uuid = qr/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
is($demo{BASE_URL}, "http://127.0.0.1:$port", 'demo.env: BASE_URL');
is($demo{PORT}, $port, 'demo.env: PORT');
is($demo{REDIS_PORT}, $redis_port, 'demo.env: REDIS_PORT');
like($demo{$_} // '', $uuid, "demo.env: $_") for qw(PROJECT_ID INSTANCE_ID INSTANCE_ID_NO_LFU);
isnt($demo{INSTANCE_ID}, $demo{INSTANCE_ID_NO_LFU}, 'demo.env: two instances');

my $ncmd = `sh -c '. "$run_dir/demo.env" && echo "\$INSTANCE_ID"'`;
chomp $ncmd;
is($ncmd, $demo{INSTANCE_ID}, 'demo.env can be sourced by sh');

my $redis_pid = pid_of("$run_dir/redis/redis.pid");
my $nginx_pid = pid_of("$run_dir/nginx/logs/nginx.pid");
ok(alive($redis_pid), 'redis-server runs');
ok(alive($nginx_pid), 'nginx runs');

# ------------------------------------------------- the printed requests

my @curls = $out =~ m{^\s*curl -si? '([^']+)'}mg;
ok(@curls >= 3, 'it prints example requests') or diag($out);
my ($first) = @curls;
my $api = "$demo{BASE_URL}/v2/$demo{PROJECT_ID}/instances";
like($first // '', qr{^\Q$api/$demo{INSTANCE_ID}\E/hotkey-tasks}, 'the first one lists the demo instance');

my ($r, $j) = get_json($first);
is($r->{status}, 200, 'the printed request: 200');
like($r->{headers}{'content-type'} // '', qr{^application/json}, '... JSON');
is($j->{instance_id}, $demo{INSTANCE_ID}, '... of the demo instance');
ok(ref $j->{records} eq 'ARRAY' && @{ $j->{records} } > 0, '... with tasks');

# every printed request answers JSON (200 or the error it announces)
for my $url (@curls) {
    my ($rr, $jj) = get_json($url);
    ok($jj && ($rr->{status} == 200 || $jj->{error_code}), "printed request answers JSON: $url")
        or diag("$rr->{status} $rr->{content}");
}

($r, $j) = get_json("$api/$demo{INSTANCE_ID}/hotkey-tasks?limit=1000");
is($r->{status}, 200, 'the whole list: 200');
cmp_ok($j->{count}, '>=', 25, 'the demo instance has at least 25 tasks');
is($j->{count}, scalar @{ $j->{records} }, 'count matches the records');
my %status;
my ($ordered, $tie) = (1, 0);
my @recs = @{ $j->{records} };
for my $i (0 .. $#recs) {
    my $t = $recs[$i];
    $status{ $t->{status} }++;
    if ($t->{status} eq 'waiting') {
        ok(!exists $t->{started_at} && !exists $t->{finished_at}, "waiting $t->{id}: no start or finish");
    } elsif ($t->{status} eq 'running') {
        ok(exists $t->{started_at} && !exists $t->{finished_at}, "running $t->{id}: started, not finished");
    } else {
        ok(exists $t->{started_at} && exists $t->{finished_at}, "$t->{status} $t->{id}: started and finished");
    }
    next unless $i;
    my $p = $recs[$i - 1];
    $ordered = 0 if $p->{created_at} lt $t->{created_at}
                 || ($p->{created_at} eq $t->{created_at} && $p->{id} lt $t->{id});
    $tie++ if $p->{created_at} eq $t->{created_at};
}
ok($ordered, 'newest first, ties by id descending');
ok($tie, 'two tasks share a created_at');
ok($status{$_}, "some tasks are $_") for qw(waiting running success failed);
my %scan = map { $_->{scan_type} => 1 } @recs;
ok($scan{manual} && $scan{auto}, 'manual and auto tasks');

($r, $j) = get_json("$api/$demo{INSTANCE_ID_NO_LFU}/hotkey-tasks");
is($r->{status}, 400, 'the allkeys-lru instance: 400');
is($j->{error_code}, 'DCS.4922', '... DCS.4922');

($r, $j) = get_json("$demo{BASE_URL}/healthz");
is($r->{status}, 200, '/healthz: 200');

# ------------------------------------------------------ again: a no-op

($rc, my $out2) = script('run.sh');
is($rc, 0, 'run.sh again succeeds') or diag($out2);
like($out2, qr/redis-server: already running/, '... redis-server already running');
like($out2, qr/nginx: already running/, '... nginx already running');
like($out2, qr/demo data: already in the store/, '... demo data not reloaded');
is(pid_of("$run_dir/redis/redis.pid"), $redis_pid, '... same redis-server');
is(pid_of("$run_dir/nginx/logs/nginx.pid"), $nginx_pid, '... same nginx');

# a change after the demo load: the newest task (waiting) starts running
my $iid = $demo{INSTANCE_ID};
my ($newest) = grep { $_->{status} eq 'waiting' } @recs;
my $p = "hotkey:{$iid}";
my $created = `redis-cli -p $redis_port HGET '$p:task:$newest->{id}' created_at`;
chomp $created;
my $set = `redis-cli -p $redis_port --eval '$top/scripts/put-task.lua' '$p:task:$newest->{id}' '$p:tasks' '$p:tasks:waiting' '$p:tasks:running' '$p:tasks:success' '$p:tasks:failed' , '$newest->{id}' running manual '$created' @{[ $created + 4321 ]} 2>&1`;
chomp $set;
is($set, 'waiting', 'put-task.lua moves the waiting task to running');

# ------------------------------------------ redis-server killed, brought back

kill 'KILL', $redis_pid;
for (1 .. 50) { last unless alive($redis_pid); sleep 0.1 }
ok(!alive($redis_pid), 'redis-server killed');

($rc, my $out3) = script('run.sh');
is($rc, 0, 'run.sh after the kill succeeds') or diag($out3);
like($out3, qr/redis-server: started/, '... starts redis-server');
like($out3, qr/nginx: already running/, '... leaves nginx alone');
like($out3, qr/demo data: already in the store/, '... keeps the data');
my $redis_pid2 = pid_of("$run_dir/redis/redis.pid");
ok(alive($redis_pid2) && $redis_pid2 != $redis_pid, 'a new redis-server runs');
is(pid_of("$run_dir/nginx/logs/nginx.pid"), $nginx_pid, 'the same nginx runs');

($r, $j) = get_json("$api/$iid/hotkey-tasks?limit=1000");
is($r->{status}, 200, 'the list after the restart: 200') or diag($r->{content});
is($j->{count}, scalar @recs, '... all tasks are still there');
my ($again) = grep { $_->{id} eq $newest->{id} } @{ $j->{records} || [] };
is($again && $again->{status}, 'running', '... with the change made before the kill');

# ------------------------------------------------------------------- stop

($rc, my $out4) = script('stop.sh');
is($rc, 0, 'stop.sh succeeds') or diag($out4);
$stopped = 1;
ok(!alive($redis_pid2), 'redis-server stopped');
ok(!alive($nginx_pid), 'nginx stopped');
ok(!IO::Socket::INET->new("127.0.0.1:$port"), 'nothing listens on the gateway port');

($rc, my $out5) = script('stop.sh');
is($rc, 0, 'stop.sh when stopped succeeds') or diag($out5);
like($out5, qr/nginx: not running/, '... and says so');

my $log = slurp("$run_dir/nginx/logs/error.log") // '';
unlike($log, qr/\[(alert|crit|emerg)\]/, 'no [alert], [crit] or [emerg] in the error log');

done_testing();
