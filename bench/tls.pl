#!/usr/bin/perl
# bench/tls.pl: the list route with the cache off, its store one Redis
# reached over TLS (hotkey_store_tls) against the same Redis over plain
# TCP, in the same nginx and the same run (`make bench` runs it after
# bench/run.sh).
#
#   tls       kept TLS connections (keepalive 64): the record layer's
#             cost per request                        baseline: plain
#   tls-new   no keepalive: a TCP connect and a TLS handshake (ECDHE,
#             a P-256 certificate, a client certificate) per request
#                                                      baseline: plain
#
# Each scenario runs in rounds of BENCH_SLICE seconds interleaved with its
# baseline, BENCH_DURATION seconds in all.  The nginx workers' CPU per
# request (utime + stime from /proc) is reported beside the rates.
#
# Env: BENCH_DURATION (10), BENCH_SLICE (2), BENCH_CONNECTIONS (50),
#      BENCH_WORKERS (2), BENCH_THREADS (2), BENCH_OUT (build/bench-tls.md)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use POSIX ();
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::TLS;

my $duration = $ENV{BENCH_DURATION} || 10;
my $slice = $ENV{BENCH_SLICE} || 2;
my $conns = $ENV{BENCH_CONNECTIONS} || 50;
my $threads = $ENV{BENCH_THREADS} || 2;
my $workers = $ENV{BENCH_WORKERS} || 2;
my $out = $ENV{BENCH_OUT} || "$FindBin::Bin/../build/bench-tls.md";
my ($wrk) = grep { -x } map { "$_/wrk" } split /:/, $ENV{PATH};
die "bench/tls.pl: wrk is not installed\n" unless $wrk;

my $t = Hotkey::Test->new(workers => $workers, log_level => 'error');
my $c = Hotkey::TLS::certs($t->prefix . '/tls');
my $tp = $t->port('tls');
$t->start_redis(args => [ Hotkey::TLS::redis_args($c, $tp) ]);
my $pid = uuid();
my $iid = uuid();
$t->add_instance($iid, project => $pid);
$t->add_tasks($iid, map { { status => 'success' } } 1 .. 25);

my $tls = "hotkey_store_tls trusted=$c->{ca} name=redis.test "
        . "certificate=$c->{client_crt} key=$c->{client_key};";
my $rp = $t->redis_port;
my $locs = '';
for my $l (['p', 'plain'], ['t', 'tls'], ['n', 'tlsnew']) {
    $locs .= <<"EOF";
        location /$l->[0]/ {
            rewrite ^/$l->[0](/.*)\$ \$1 break;
            hotkey_api on;
            hotkey_auth off;
            hotkey_store $l->[1];
        }
EOF
}
$t->start_nginx(<<"EOF");
    upstream plain {
        server 127.0.0.1:$rp;
        keepalive 64;
    }
    upstream tls {
        $tls
        server 127.0.0.1:$tp;
        keepalive 64;
    }
    upstream tlsnew {
        $tls
        server 127.0.0.1:$tp;
    }
    server {
        listen 127.0.0.1:@{[ $t->nginx_port ]};
$locs
    }
EOF

my $list = $t->list_path($pid, $iid, 'limit=10');
for my $p ('/p', '/t', '/n') {
    my $res = $t->get("$p$list");
    die "bench/tls.pl: $p answers $res->{status}\n$res->{body}\n"
        unless $res->{status} == 200 && $res->{json}{count} == 25;
}

my $base = 'http://127.0.0.1:' . $t->nginx_port;
my $tick = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;

sub cpu {
    my $s = 0;
    for my $w ($t->worker_pids) {
        open my $fh, '<', "/proc/$w/stat" or next;
        my @f = split ' ', (<$fh> =~ s/^.*\) //r);
        $s += $f[11] + $f[12];
    }
    return $s / $tick;
}

sub wrk_run {
    my ($path, $secs) = @_;
    my $c0 = cpu();
    my $o = `'$wrk' -t$threads -c$conns -d${secs}s '$base$path' 2>&1`;
    my $dc = cpu() - $c0;
    my ($reqs) = $o =~ /(\d+) requests in/;
    my ($non2xx) = $o =~ /Non-2xx or 3xx responses: (\d+)/;
    die "bench/tls.pl: wrk failed:\n$o" unless defined $reqs;
    return ($reqs, $non2xx // 0, $dc);
}

my @rows;
for my $sc (['tls', '/t'], ['tls-new', '/n']) {
    my ($name, $prefix) = @$sc;
    my %n = (b => 0, s => 0);
    my %e = (b => 0, s => 0);
    my %cpu = (b => 0, s => 0);
    my $rounds = int($duration / $slice) || 1;
    for my $r (1 .. $rounds) {
        for my $k ($r % 2 ? ('b', 's') : ('s', 'b')) {
            my ($n, $bad, $dc) = wrk_run(($k eq 'b' ? '/p' : $prefix) . $list,
                                         $slice);
            $n{$k} += $n;
            $e{$k} += $bad;
            $cpu{$k} += $dc;
        }
    }
    my $secs = $rounds * $slice;
    push @rows, [ $name, $n{s} / $secs, $n{b} / $secs, $e{s} + $e{b},
                  1e6 * $cpu{s} / ($n{s} || 1), 1e6 * $cpu{b} / ($n{b} || 1) ];
}

my $table = "| scenario | TLS req/s | plain req/s | ratio | non-200 | "
          . "worker CPU us/req TLS / plain |\n"
          . "|---|---:|---:|---:|---:|---|\n";
for my $r (@rows) {
    $table .= sprintf "| %s | %.0f | %.0f | %.2f | %d | %.1f / %.1f |\n",
        $r->[0], $r->[1], $r->[2], $r->[2] ? $r->[1] / $r->[2] : 0,
        $r->[3], $r->[4], $r->[5];
}

print "\nTLS to the store against plain TCP, one Redis, list route, cache "
    . "off, $conns connections, $threads wrk threads, $workers workers, "
    . "${duration}s each:\n\n$table";
if (open my $fh, '>', $out) {
    print $fh $table;
}

$t->stop_nginx;
