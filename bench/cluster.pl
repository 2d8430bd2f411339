#!/usr/bin/perl
# bench/cluster.pl: the list route with the cache off, its store a Redis
# Cluster of three masters against one standalone Redis, in the same nginx
# and the same run (`make bench` runs it after bench/run.sh).
#
#   one   one instance: every request to one shard (the per-request cost of
#         the slot lookup and the cluster balancer)  baseline: standalone
#   many  30 instances spread over the three shards, wrk cycling over them
#         (the load spread)                           baseline: standalone
#
# Each scenario runs in rounds of BENCH_SLICE seconds interleaved with its
# baseline, BENCH_DURATION seconds in all; wrk keeps its connections open,
# nginx keeps 64 idle store connections per node and worker.
#
# Env: BENCH_DURATION (10), BENCH_SLICE (2), BENCH_CONNECTIONS (50),
#      BENCH_WORKERS (2), BENCH_THREADS (2), BENCH_OUT (build/bench-cluster.md)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Cluster;

my $duration = $ENV{BENCH_DURATION} || 10;
my $slice = $ENV{BENCH_SLICE} || 2;
my $conns = $ENV{BENCH_CONNECTIONS} || 50;
my $threads = $ENV{BENCH_THREADS} || 2;
my $out = $ENV{BENCH_OUT} || "$FindBin::Bin/../build/bench-cluster.md";
my ($wrk) = grep { -x } map { "$_/wrk" } split /:/, $ENV{PATH};
die "bench/cluster.pl: wrk is not installed\n" unless $wrk;

my $c = Hotkey::Cluster->new(masters => 3, replicas => 0);
my $t = Hotkey::Test->new(workers => $ENV{BENCH_WORKERS} || 2,
                          log_level => 'error');
$t->start_redis;
my $pid = uuid();
my $cs = $c->store;

my @iids;
for my $i (0 .. 29) {
    my $m = ($c->masters)[$i % 3];
    push @iids, $c->instance_on($m);
}

for my $iid (@iids) {
    my @tasks = map { Hotkey::Test::make_task(status => 'success') } 1 .. 25;
    my @cmds = (['HSET', "hotkey:{$iid}:instance", project_id => $pid,
                 eviction_policy => 'allkeys-lfu'],
                map { $t->_task_cmds($iid, $_) } @tasks);
    $t->redis_pipeline(@cmds);
    $cs->redis_pipeline(@cmds);
}

my $servers = join '', map { "        server $_;\n" } $c->masters;
my $redis = '127.0.0.1:' . $t->redis_port;
$t->start_nginx(<<"EOF");
    upstream standalone {
        server $redis;
        keepalive 64;
    }
    upstream cluster {
        hotkey_store_cluster;
$servers        keepalive 64;
    }
    server {
        listen 127.0.0.1:@{[ $t->nginx_port ]};
        location /s/ {
            rewrite ^/s(/.*)\$ \$1 break;
            hotkey_api on;
            hotkey_auth off;
            hotkey_store standalone;
        }
        location /c/ {
            rewrite ^/c(/.*)\$ \$1 break;
            hotkey_api on;
            hotkey_auth off;
            hotkey_store cluster;
        }
    }
EOF

my $base = 'http://127.0.0.1:' . $t->nginx_port;
for my $p ('/s', '/c') {
    my $res = $t->get("$p" . $t->list_path($pid, $iids[0], 'limit=10'));
    die "bench/cluster.pl: $p answers $res->{status}\n$res->{body}\n"
        unless $res->{status} == 200 && $res->{json}{count} == 25;
}

sub script {
    my ($prefix, @ids) = @_;
    my $f = $t->prefix . "/wrk$prefix-" . scalar(@ids) . '.lua';
    $f =~ s{/wrk/}{/wrk-};
    open my $fh, '>', $f or die $!;
    print $fh "local p = {\n";
    print $fh "  \"$prefix" . $t->list_path($pid, $_, 'limit=10') . "\",\n"
        for @ids;
    print $fh "}\nlocal i = 0\nrequest = function()\n  i = i + 1\n"
            . "  return wrk.format(\"GET\", p[i % #p + 1])\nend\n"
            . "done = function(s, l, r)\n"
            . "  io.write(string.format(\"REQS %d ERRS %d %d %d %d\\n\",\n"
            . "    s.requests, s.errors.status, s.errors.connect,\n"
            . "    s.errors.read, s.errors.timeout))\nend\n";
    close $fh;
    return $f;
}

sub wrk_run {
    my ($script, $secs) = @_;
    my $o = `'$wrk' -t$threads -c$conns -d${secs}s --latency -s '$script' '$base/' 2>&1`;
    my ($reqs) = $o =~ /REQS (\d+)/;
    my ($errs) = $o =~ /ERRS (\d+ \d+ \d+ \d+)/;
    my ($p50) = $o =~ /50%\s+([\d.]+\w+)/;
    die "bench/cluster.pl: wrk failed:\n$o" unless defined $reqs;
    my $bad = 0;
    $bad += $_ for split ' ', $errs // '';
    return ($reqs, $bad, $p50);
}

my @rows;
for my $sc (['one', [ $iids[0] ]], ['many', \@iids]) {
    my ($name, $ids) = @$sc;
    my %s = (s => script('/s', @$ids), c => script('/c', @$ids));
    my %n = (s => 0, c => 0);
    my %e = (s => 0, c => 0);
    my %p50;
    my $rounds = int($duration / $slice) || 1;
    for (1 .. $rounds) {
        for my $k ('s', 'c') {
            my ($r, $bad, $p) = wrk_run($s{$k}, $slice);
            $n{$k} += $r;
            $e{$k} += $bad;
            $p50{$k} = $p;
        }
    }
    my $secs = $rounds * $slice;
    push @rows, [ $name, $n{c} / $secs, $n{s} / $secs, $e{c} + $e{s},
                  $p50{c}, $p50{s} ];
}

my $table = "| scenario | cluster req/s | standalone req/s | ratio | "
          . "errors | p50 cluster / standalone |\n"
          . "|---|---:|---:|---:|---:|---|\n";
for my $r (@rows) {
    $table .= sprintf "| %s | %.0f | %.0f | %.2f | %d | %s / %s |\n",
        $r->[0], $r->[1], $r->[2], $r->[2] ? $r->[1] / $r->[2] : 0,
        $r->[3], $r->[4] // '?', $r->[5] // '?';
}

print "\nRedis Cluster (3 masters) against one Redis, list route, cache off, "
    . "$conns connections, $threads wrk threads, "
    . ($ENV{BENCH_WORKERS} || 2) . " workers, ${duration}s each:\n\n$table";
if (open my $fh, '>', $out) {
    print $fh $table;
}

$t->stop_nginx;
$c->stop;
