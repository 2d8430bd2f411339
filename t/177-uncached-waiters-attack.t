#!/usr/bin/perl
# Waiters of an answer that is not kept must not queue one behind another.
#
# The details of a waiting or running task are never cached, and an
# answer bigger than the zone cannot be.  Concurrent misses of such a key
# still coalesce: one leader asks the store, the others wait.  When its
# answer came and was not kept, the waiters were woken to find the key
# free and no answer: the first took the lock and asked the store, the
# others waited again, and so on, one store round trip after another.
# With a store that takes 0.25 s a request, the last of twelve
# concurrent clients was answered after 3 s (twelve round trips) instead
# of two; a hundred waiters behind a slow store took 20 s.
#
# Now the waiters of an answer that was not kept ask the store themselves,
# all at once.  Control: a finished task's details, which are kept, make
# one round trip for every client.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Attack qw(:all);

my $DELAY = 0.25;     # each store command, through the slow fake store
my $N = 16;           # concurrent clients of one key
my $LIMIT = 5 * $DELAY + 1;    # two round trips and slack; was N of them

my $t = Hotkey::Test->new(workers => 1);
$t->start_redis;

my $pid = hex32();
my $iid = uuid();
$t->add_instance($iid, project => $pid);
my $run = $t->add_task($iid, status => 'running');
my $wait = $t->add_task($iid, status => 'waiting');
my $done = $t->add_task($iid, status => 'success');
my $big = uuid();
$t->add_instance($big, project => $pid);
$t->add_tasks($big, map { { status => 'success' } } 1 .. 300);

my $slow = slow_store($t, 'slow', $DELAY);
my $port = $t->nginx_port;
$t->start_nginx(<<"CONF");
    hotkey_cache_zone uw:32k;
    server {
        listen 127.0.0.1:$port;
        location /v2/ {
            hotkey_api on;
            hotkey_auth off;
            hotkey_store 127.0.0.1:$slow;
            hotkey_store_subscribe off;
            hotkey_store_read_timeout 10s;
            hotkey_cache uw;
            hotkey_cache_valid 60s;
        }
    }
CONF

sub details { "/v2/$pid/instances/$iid/hotkey-task/$_[0]" }

# N clients of one path at once; their answers, in order of sending
sub burst {
    my ($path) = @_;
    my @c = map { Hotkey::Attack::Conn->new($t) } 1 .. $N;
    my $t0 = time;
    $_->send('GET', $path) for @c;
    my @r = map { $_->recv(timeout => $N * $DELAY + 5) } @c;
    $_->close for @c;
    return ($t0, @r);
}

sub check {
    my ($name, $path, $want) = @_;
    my $calls = store_calls($t);
    my ($t0, @r) = burst($path);
    my @bad = grep { ($_->{status} // 0) != 200 || !$_->{json}
                     || !$want->($_->{json}) } @r;
    ok(!@bad, "$name: $N clients at once: 200 each, the right JSON")
        or diag(join "\n", map { Hotkey::Test::_res_summary($_) } @bad[0 .. 2]);
    my ($last) = sort { $b <=> $a } map { ($_->{done_at} // time) - $t0 } @r;
    cmp_ok($last, '<', $LIMIT,
           sprintf("%s: the last answered within %.2fs (%.2fs)", $name,
                   $LIMIT, $last));
    return store_calls($t) - $calls;
}

my $n = check('details of a running task', details($run->{id}),
              sub { $_[0]{id} eq $run->{id} && $_[0]{status} eq 'running' });
cmp_ok($n, '<=', $N, "details of a running task: at most $N store round trips ($n)");

check('details of a waiting task', details($wait->{id}),
      sub { $_[0]{id} eq $wait->{id} && $_[0]{status} eq 'waiting' });

check('a list bigger than the zone',
      $t->list_path($pid, $big, 'limit=300'),
      sub { $_[0]{count} == 300 && @{ $_[0]{records} } == 300 });

$n = check('details of a finished task (kept)', details($done->{id}),
           sub { $_[0]{id} eq $done->{id} && $_[0]{status} eq 'success' });
is($n, 1, 'details of a finished task: one store round trip for all');

idle_check($t, 'the worker is idle afterwards');

$t->done;
