#!/usr/bin/perl
# After a reload, requests of the new workers on a key whose leader is a
# request of the old cycle must not all ask the store.
#
# They cannot wait for that leader (it wakes its own cycle's workers
# only, t/178), so each of them asked the store itself for as long as the
# old leader's round trip lasted: with a slow store, a burst of twenty
# requests on a hot key just after a reload made twenty round trips (and
# every further request one more), instead of one.
#
# Now the first request of the new cycle takes the key over with a new
# ticket of its cycle (the old leader's answer, no longer the holder's,
# is not stored), and the others wait for it.  One worker, the store
# stopped; L (old cycle) leads; reload; twenty requests of the new
# worker on the key; the store resumed: all answered, and the store ran
# one command for L and one for the new cycle.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Attack qw(:all);

my $N = 20;
my $pid = hex32();
my $iid = uuid();

my $t = Hotkey::Test->new(workers => 1);
$t->start_redis;
$t->add_instance($iid, project => $pid);
$t->add_tasks($iid, map { { status => 'success' } } 1 .. 5);
my $path = $t->list_path($pid, $iid, 'limit=3');
my $port = $t->nginx_port;
my $redis = $t->redis_port;
$t->start_nginx(<<"CONF");
    hotkey_cache_zone to:1m;
    server {
        listen 127.0.0.1:$port;
        keepalive_timeout 120s;
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store 127.0.0.1:$redis;
            hotkey_store_subscribe off;
            hotkey_store_connect_timeout 200ms;
            hotkey_store_send_timeout 200ms;
            hotkey_store_read_timeout 6s;
            hotkey_cache to;
            hotkey_cache_valid 60s;
        }
        location = /pid { return 200 "\$pid"; }
    }
CONF

my $want = $t->get($path)->{body} // '';
ok($want ne '', 'the list answers');

my $lp = $t->list_path($pid, $iid, 'limit=4');      # not cached yet
my ($lc, $A) = conn_other($t);
my $calls = store_calls($t);
pause_store($t);
$lc->send('GET', $lp);                   # L leads in the old cycle
sleep 0.2;
kill 'HUP', $t->master_pid;
my ($c1, $B) = conn_other($t, $A);
ok($c1, "old worker $A, new worker $B");
# each on the new worker (the old one accepts until it is told to quit)
my @w = ($c1, map { (conn_other($t, $A))[0] } 2 .. $N);
is(scalar(grep { defined } @w), $N, "$N connections to the new worker");
$_->send('GET', $lp) for @w;             # a burst in the new cycle
sleep 0.5;
resume_store($t);

my $rl = $lc->recv(timeout => 8);
my @r = map { $_->recv(timeout => 8) } @w;
is($rl->{status}, 200, 'the old leader answered');
my @bad = grep { ($_->{status} // 0) != 200 } @r;
ok(!@bad, "the $N requests of the new worker: 200 each")
    or diag(Hotkey::Test::_res_summary($bad[0]));
my $n = store_calls($t) - $calls;
cmp_ok($n, '<=', 2, "store round trips for the old leader and the $N "
                    . "new requests: $n (<= 2; was " . ($N + 1) . ')');
is($t->get($lp)->{headers}{'x-cache-status'} // '', 'HIT',
   'the answer is kept');

idle_check($t, 'the worker is idle afterwards');
$t->done;
