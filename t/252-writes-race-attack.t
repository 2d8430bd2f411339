#!/usr/bin/perl
# Writes under attack (api.md sections 7 and 9): many creates at once (one
# wins, the others DCS.4026), delete of waiting and running tasks
# (DCS.4957), the 101st record (the oldest finished one goes, with its keys
# and index entries), and caches that follow every write: a cached list,
# a cached finished task's details, a running task's details when the
# analyzer finishes it, and the autoscan settings, on the node that took
# the write and on another node (one store).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Auth qw(slurp);

my $t = Hotkey::Test->new(workers => 4);
my $t2 = Hotkey::Test->new(workers => 2);
$t->start_redis;
my $store = '127.0.0.1:' . $t->redis_port;
my $cache = <<'EOF';
            hotkey_cache rc;
            hotkey_cache_valid 60s;
EOF
$t->start_nginx("    hotkey_cache_zone rc:1m;\n" . $t->api_server(extra => $cache));
$t2->start_nginx("    hotkey_cache_zone rc:1m;\n"
                 . $t2->api_server(store_addr => $store, extra => $cache));

my $P = hex32();
my $I = uuid();
$t->add_instance($I, project => $P);
my $base = "/v2/$P/instances/$I";
my $put = slurp($t->top . '/scripts/put-task.lua');

sub finish {
    my ($tid, $status, %o) = @_;
    my $p = "hotkey:{$I}";
    my $c = $t->redis('HGET', "$p:task:$tid", 'created_at');
    my $r = $t->redis('EVAL', $put, 6, "$p:task:$tid", "$p:tasks",
                      map({ "$p:tasks:$_" } qw(waiting running success failed)),
                      $tid, $status, 'manual', $c,
                      $status eq 'waiting' ? '' : $c + 1,
                      $status =~ /success|failed/ ? $c + 2 : '');
    die "put-task: $r->{err}" if ref $r eq 'HASH';
    $t->redis('LREM', "$p:queue", 0, $tid);
    $t->redis('RPUSH', "$p:task:$tid:keys", @{ $o{keys} }) if $o{keys};
    $t->redis('PUBLISH', 'hotkey:changes', $I) unless $o{quiet};
}

# n requests written on n connections at once, the answers
sub at_once {
    my ($n, $req) = @_;
    my @s = map {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->nginx_port)
            or die "connect: $!"
    } 1 .. $n;
    syswrite($_, $req) for @s;
    my @res;
    for my $s (@s) {
        my $st = { sock => $s, buf => '', eof => 0, deadline => time + 5 };
        push @res, Hotkey::Test::_read_response($st, 0);
        close $s;
    }
    return @res;
}

my $CREATE = "POST $base/hotkey-task HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
my $M4026 = 'This operation is not allowed when the DCS instance is in the current state.';
my $M4957 = 'This operation is not allowed when the task is in the current state.';

# ------------------------------------------------------------ creates at once
my $winner;
for my $round (1 .. 5) {
    my @r = at_once(12, $CREATE);
    my @ok = grep { ($_->{status} // 0) == 200 } @r;
    my @busy = grep { ($_->{status} // 0) == 400
                      && ($_->{json}{error_code} // '') eq 'DCS.4026' } @r;
    is(scalar @ok, 1, "round $round: 12 creates at once, exactly one 200");
    is(scalar @busy, 11, "round $round: the 11 others DCS.4026");
    my $w = $ok[0] ? $ok[0]{json}{id} : undef;
    is($t->redis('ZCARD', "hotkey:{$I}:tasks:waiting"), 1, "round $round: one waiting task");
    is($t->redis('LLEN', "hotkey:{$I}:queue"), 1, "round $round: one job queued");
    last unless $w;
    # delete while waiting, while running: refused
    is_json_error($t->request('DELETE', "$base/hotkey-task/$w"), 400, 'DCS.4957', $M4957,
                  "round $round: delete while waiting: DCS.4957");
    finish($w, 'running');
    is_json_error($t->request('DELETE', "$base/hotkey-task/$w"), 400, 'DCS.4957', $M4957,
                  "round $round: delete while running: DCS.4957");
    is_json_error($t->request('POST', "$base/hotkey-task"), 400, 'DCS.4026', $M4026,
                  "round $round: create while running: DCS.4026");
    finish($w, $round % 2 ? 'success' : 'failed');
    $winner = $w;
}

# ------------------------------------------------------------ delete races
{
    my $path = "$base/hotkey-task/$winner";
    my @r = at_once(8, "DELETE $path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    my @st = sort map { $_->{status} // 0 } @r;
    is_deeply(\@st, [204, (400) x 7], '8 deletes of one task at once: one 204, seven 400');
    is_json_error($t->get($path), 400, 'DCS.4941', 'The hotkey id does not exist.',
                  'the deleted task is gone');
}

# ------------------------------------------------------------ retention
{
    $t->redis('DEL', map { "hotkey:{$I}:$_" } qw(tasks tasks:success tasks:failed queue));
    my @tasks = $t->add_tasks($I, map { { status => $_ % 3 ? 'success' : 'failed',
                                          created_at => 1600000000000 + $_ } } 1 .. 100);
    for my $tk (@tasks) {
        $t->redis('RPUSH', "hotkey:{$I}:task:$tk->{id}:keys", '1|0|string|1|byte|h:1|k');
    }
    my $oldest = $tasks[0]{id};
    my $r = $t->request('POST', "$base/hotkey-task");
    is($r->{status}, 200, 'the 101st create: 200');
    is($t->redis('ZCARD', "hotkey:{$I}:tasks"), 100, '100 records kept');
    is($t->redis('EXISTS', "hotkey:{$I}:task:$oldest"), 0, 'the oldest record is gone');
    is($t->redis('EXISTS', "hotkey:{$I}:task:$oldest:keys"), 0, '... with its keys');
    ok(!defined $t->redis('ZSCORE', "hotkey:{$I}:tasks:failed", $oldest)
       && !defined $t->redis('ZSCORE', "hotkey:{$I}:tasks:success", $oldest),
       '... and its status index entry');
    is($t->redis('EXISTS', "hotkey:{$I}:task:$tasks[1]{id}"), 1, 'the second oldest stays');
    my $l = $t->get("$base/hotkey-tasks?limit=1000");
    is($l->{json}{count}, 100, 'the list counts 100');
    is($l->{json}{records}[0]{id}, $r->{json}{id}, 'the new task first');
    finish($r->{json}{id}, 'success');
    $t->redis('DEL', map { "hotkey:{$I}:$_" } qw(tasks tasks:success tasks:failed queue));
}

# ------------------------------------------------------------ caches follow
sub xcs { $_[0]{headers}{'x-cache-status'} // '' }
{
    my $lp = "$base/hotkey-tasks?limit=100";
    for my $n ($t, $t2) { $n->get($lp) for 1 .. 3 }
    is(xcs($t2->get($lp)), 'HIT', 'the list is cached on node 2');
    my $c = $t->request('POST', "$base/hotkey-task");
    is($c->{status}, 200, 'a create');
    my $id = $c->{json}{id};
    my $seen = sub { grep { $_->{id} eq $id } @{ $_[0]{json}{records} || [] } };
    ok($seen->($t->get($lp)), 'node 1 (took the write) lists it at once');
    my $ok2 = poll(1, sub { $seen->($t2->get($lp)) }, 0.005);
    ok($ok2, 'node 2 lists it within a second');

    # details of a waiting, then running task, then the analyzer ends it
    my $dp = "$base/hotkey-task/$id";
    is($t->get($dp)->{json}{status}, 'waiting', 'details: waiting') for 1 .. 2;
    is($t2->get($dp)->{json}{status}, 'waiting', 'details on node 2: waiting') for 1 .. 2;
    finish($id, 'running');
    my $s1 = $t->get($dp)->{json}{status} // '';
    is($s1, 'running', 'details: running as soon as the analyzer took it');
    finish($id, 'success', keys => ['9|0|string|5|byte|h:1|hot']);
    my %st;
    for my $k (1 .. 8) {
        for my $n ($t, $t2) {
            my $r = $n->get($dp);
            $st{ $r->{json}{status} // 'none' }++;
        }
    }
    is_deeply(\%st, { success => 16 },
              'after the analyzer finished it, every worker of both nodes shows success');
    for my $n ($t, $t2) { $n->get($dp) for 1 .. 3 }
    is(xcs($t2->get($dp)), 'HIT', 'a finished task\'s details are cached');
    is($t->request('DELETE', $dp)->{status}, 204, 'delete it');
    is($t->get($dp)->{status}, 400, 'node 1: gone at once');
    my $gone = poll(1, sub { ($t2->get($dp)->{status} // 0) == 400 }, 0.005);
    ok($gone, 'node 2: gone within a second (not its cached copy)');

    # autoscan settings
    my $ap = "$base/hotkey/autoscan";
    for my $n ($t, $t2) { $n->get($ap) for 1 .. 3 }
    is_deeply($t2->get($ap)->{json}{schedule_at}, [], 'autoscan: never set');
    my $p = $t->request('PUT', $ap, [], '{"enable_auto_scan":true,"schedule_at":["05:05"]}');
    is($p->{status}, 200, 'PUT autoscan');
    for my $k (1 .. 8) {
        is_deeply($t->get($ap)->{json}{schedule_at}, ['05:05'],
                  "node 1 GET $k: the new value at once");
    }
    my $new = poll(1, sub {
        (($t2->get($ap)->{json}{schedule_at} || [])->[0] // '') eq '05:05'
    }, 0.005);
    ok($new, 'node 2: the new value within a second');
    my $h = $t->head($ap);
    is($h->{status}, 200, 'HEAD autoscan: 200');
    is($h->{body}, '', 'HEAD autoscan: no body');
}

$t2->done(no_done_testing => 1);
$t->done;
