#!/usr/bin/perl
# A zone full of held entries (issue 9, "bounded eviction that never frees
# an entry someone holds or waits on, and gives up (answers without
# storing) rather than emptying the zone"), built on purpose: a cache
# zone of 8 pages; a fake store (gate_store) holds every command, so every
# leader keeps its entry locked; 400 distinct keys (far more than the
# zone holds) are asked over one HTTP/2 connection, then 2 more requests
# for each of the first 20 keys (waiters, or uncoalesced when their key
# found no room).  The store opens: every request is answered with the
# right list within 15 s; afterwards a new key is served (twice) and
# the worker is idle; no
# [alert]/[crit].
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Attack qw(:all);

my $N = 400;
my $pid = hex32();
my $iid = uuid();

my $t = Hotkey::Test->new(workers => 1);
$t->start_redis;
$t->add_instance($iid, project => $pid);
my @tasks = $t->add_tasks($iid, map { { status => 'success' } } 1 .. 5);
my $port = $t->nginx_port;
my $gate = gate_store($t, 'gate');
$t->write_conf(<<"CONF");
    hotkey_cache_zone tiny:32k;
    upstream st {
        server 127.0.0.1:$gate;
    }
    server {
        listen 127.0.0.1:$port http2;
        http2_max_concurrent_streams 5000;
        keepalive_requests 100000;
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store st;
            hotkey_store_read_timeout 30s;
            hotkey_cache tiny;
            hotkey_cache_valid 60s;
        }
    }
CONF
set_worker_connections($t, 4000);
$t->start_nginx;

sub path { $t->list_path($pid, $iid, "limit=1&offset=$_[0]") }

my $c = Hotkey::Attack::H2->new($t);
my @ids = map { [$_, $c->get(path($_))] } 1 .. $N;
my $end = time + 20;
while (gate_held($t, 'gate') < $N && time < $end) { $c->pump(timeout => 0.1) }
is(gate_held($t, 'gate'), $N, "the store holds $N commands: $N entries locked, or not stored");
push @ids, map { my $k = $_; map { [$k, $c->get(path($k))] } 1 .. 2 } 1 .. 20;
$c->pump(timeout => 0.5);
my $t0 = time;
gate_open($t, 'gate');
my @left = $c->wait_done([ map { $_->[1] } @ids ], timeout => 15);
my @bad = map { "stream $_: no answer" } @left;
for (@ids) {
    my ($k, $id) = @$_;
    my $r = $c->response($id);
    next unless $r->{done};
    my $exp = json_encode(expected_list($iid, \@tasks, limit => 1, offset => $k));
    push @bad, "offset $k: status " . ($r->{status} // '-')
        unless ($r->{status} // '') eq '200' && $r->{json}
               && json_encode($r->{json}) eq $exp;
}
ok(!@bad, 'all ' . scalar(@ids) . ' requests answered with the right list within 15 s')
    or diag(scalar(@bad) . " wrong:\n" . join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
note(sprintf 'drained in %.2fs', time - $t0);

# the cache still works
my $a = $c->get(path(1000));
$c->wait_done([$a], timeout => 5);
my $b = $c->get(path(1000));
$c->wait_done([$b], timeout => 5);
is($c->response($a)->{status}, 200, 'a new key afterwards: 200');
is($c->response($b)->{status}, 200, 'the same key again: 200');
$c->close;

idle_check($t, 'the worker is idle afterwards');
hard_stop($t);
$t->done;
