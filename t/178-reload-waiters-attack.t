#!/usr/bin/perl
# Requests that arrive after a reload, on a key whose leader is a request
# of the old generation, must not wait for that leader.
#
# A leader wakes its waiters through the eventfds of its own cycle; the
# workers a reload starts have new ones.  A request of a new worker that
# found the key locked by an old worker's request waited for it, was not
# woken when that leader's answer came, and sat out the lock time: in the
# quickstart (1 s store timeouts, a 3.5 s lock) twenty such requests were
# answered 3.1 s after they came, 2.1 s after the store answered the old
# leader.  And an old worker that read its slot's ring could take the
# tickets meant for the new worker of that slot.
#
# Now an entry carries its leader's cycle, and only workers of that cycle
# wait for it; the others ask the store themselves.  A retiring worker
# resumes its waiters at once (they ask the store) and no longer reads
# the rings.  One worker, lock time 0.2 + 0.2 + 6 + 0.5 = 6.9 s; from t0:
#   0    the store stopped (SIGSTOP); L (generation A) leads, W0 (A) waits
#   0.3  reload: generation B; W1..W5 (B) come for the same key
#   1    the store resumed: L and W0 answered at once, W1..W5 too (they
#        used to wait until 6.9)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Attack qw(:all);

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
    hotkey_cache_zone rw:1m;
    server {
        listen 127.0.0.1:$port;
        keepalive_timeout 120s;
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store 127.0.0.1:$redis;
            hotkey_store_connect_timeout 200ms;
            hotkey_store_send_timeout 200ms;
            hotkey_store_read_timeout 6s;
            hotkey_cache rw;
            hotkey_cache_valid 60s;
        }
        location = /pid { return 200 "\$pid"; }
    }
CONF

my $r = $t->get($t->list_path($pid, $iid, 'limit=1'));
is($r->{status}, 200, 'the list answers');

my ($lc, $A) = conn_other($t);
my ($w0) = conn_other($t);
ok($lc && $w0, "generation A: worker $A");

my $t0 = time;
pause_store($t);
$lc->send('GET', $path);                 # L leads in A
sleep 0.1;
$w0->send('GET', $path);                 # W0 waits in A
sleep 0.2;
kill 'HUP', $t->master_pid;
my ($c1, $B) = conn_other($t, $A);
ok($c1, "generation B: worker $B");
my @w = ($c1, map { Hotkey::Attack::Conn->new($t) } 1 .. 4);
$_->send('GET', $path) for @w;           # W1..W5 in B, on L's key
sleep $t0 + 1 - time if time < $t0 + 1;
my $back = time;
resume_store($t);

my $want = expected_list_json();
for my $x (['L (A)', $lc], ['W0 (A, retiring)', $w0],
           map { ["W$_ (B)", $w[$_ - 1]] } 1 .. 5)
{
    my ($name, $c) = @$x;
    my $res = $c->recv(timeout => $back + 8 - time);
    my $at = time - $back;
    ok(($res->{status} // 0) == 200 && ($res->{body} // '') eq $want
       && $at < 1.5,
       sprintf('%s: 200, the right list, %.2f s after the store is back '
               . '(< 1.5; the lock ends 5.9 s after)', $name, $at))
        or diag(Hotkey::Test::_res_summary($res));
    $c->close;
}

idle_check($t, 'the worker is idle afterwards');
$r = $t->get($path);
is($r->{status}, 200, 'nginx answers afterwards');
$t->done;

sub expected_list_json {
    my $res = Hotkey::Test->can('request')->($t, 'GET', $path, [], undef);
    return $res->{body} // '';
}
