#!/usr/bin/perl
# Attacks on the cluster store (hotkey_store_cluster) with fake cluster
# nodes: small RESP servers that answer CLUSTER SLOTS with the map a test
# chooses, and the scripts with MOVED, ASK, TRYAGAIN, garbage, silence, or
# the real answer (forwarded to a standalone Redis, which holds the data:
# the script keys are "hotkey:{<iid>}:...", as on a cluster).
#
#   - a create (POST) whose ASK target ran the script but answered late is
#     not run a second time (a redirect must not make a write retryable);
#   - a create answered late after a MOVED, while the request's other
#     node failed too, is not run again on the node that already ran it;
#   - a reload that points the upstream at other seeds (another cluster)
#     stops using the old cluster's slot map at once;
#   - MOVED loops, to a host name, to a port nobody listens on, to slots
#     out of range; ASK loops, an ASK target that answers garbage or
#     nothing; TRYAGAIN forever; CLUSTERDOWN: each a 500 JSON answer
#     within the timeouts, with idle workers afterwards;
#   - CLUSTER SLOTS replies that are malformed, name 1000 nodes, overlap,
#     have port 0, an empty host: the map falls back to the seeds and the
#     requests still find their node by MOVED;
#   - a burst of requests while the map is empty: all answered, and few
#     CLUSTER SLOTS (one worker refreshes at a time);
#   - a client that leaves during a TRYAGAIN wait.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Attack qw(:all);
use Hotkey::Cluster;

my $t = Hotkey::Test->new(workers => 2);
$t->start_redis;
my $pid = uuid();
my $iid = uuid();
$t->add_instance($iid, project => $pid);
my $slot = Hotkey::Cluster::crc16($iid) % 16384;
my $rp = $t->redis_port;
my $P = $t->prefix;

$t->allow_log(qr/hotkey (store|cluster)/);

# ---------------------------------------------------------------- fakes

sub bulk { my $s = shift; '$' . length($s) . "\r\n$s\r\n" }

# CLUSTER SLOTS: [from, to, host, port] ...
sub slots_reply {
    my @r = @_;
    my $out = '*' . scalar(@r) . "\r\n";
    for my $r (@r) {
        $out .= "*3\r\n:$r->[0]\r\n:$r->[1]\r\n*3\r\n" . bulk($r->[2])
              . ":$r->[3]\r\n" . bulk('0' x 40);
    }
    return $out;
}

sub bump {              # a counter in a file, shared by the forked fakes
    my ($name) = @_;
    my $f = "$P/logs/count-$name";
    open my $fh, '+>>', $f or die $!;
    flock $fh, 2;
    seek $fh, 0, 0;
    my $n = (<$fh> // 0) + 1;
    truncate $fh, 0;
    print $fh $n;
    close $fh;
    return $n;
}

sub count { open my $fh, '<', "$P/logs/count-$_[0]" or return 0; <$fh> // 0 }

# a fake node: slots => sub { CLUSTER SLOTS reply }, script => sub { $cmd }
sub node {
    my ($name, %o) = @_;
    my $port = $t->port($name);
    $o{slots} //= sub { slots_reply([0, 16383, '127.0.0.1', $port]) };
    $o{script} //= sub { Hotkey::Test::_proxy($rp, $_[0]) };
    $t->start_fake($name, close_after => $o{close_after}, reply => sub {
        my ($cmd) = @_;
        my $c = uc($cmd->[0] // '');
        if ($c eq 'CLUSTER') { bump("$name-slots"); return $o{slots}->() }
        return "+OK\r\n" if $c eq 'ASKING' && !$o{asking};
        return $o{asking}->() if $c eq 'ASKING';
        if ($c =~ /^EVAL/) { bump("$name-eval"); return $o{script}->($cmd) }
        return Hotkey::Test::_proxy($rp, $cmd);
    });
    return $port;
}

sub conf {
    my ($cl, @ports) = @_;
    my $rt = ref $ports[-1] ? pop(@ports)->{rt} : '500ms';
    my $servers = join '', map { "        server 127.0.0.1:$_;\n" } @ports;
    return "    upstream cl {\n        $cl\n$servers        keepalive 8;\n"
         . "    }\n" . $t->api_server(store => 'cl', read_timeout => $rt);
}

sub tasks { scalar @{ $t->redis('ZRANGE', "hotkey:{$iid}:tasks", 0, -1) } }

sub clear_tasks {
    my $ids = $t->redis('ZRANGE', "hotkey:{$iid}:tasks", 0, -1);
    $t->redis('DEL', "hotkey:{$iid}:task:$_") for @$ids;
    $t->redis('DEL', "hotkey:{$iid}:tasks", "hotkey:{$iid}:tasks:waiting",
              "hotkey:{$iid}:queue");
}

my $base = "/v2/$pid/instances/$iid";

# ------------------------------------------- a write is not run twice (ASK)

# The seed says ASK to B; B runs the create, then answers after the read
# timeout the first time.  The create ran: the answer may be a 500 (its
# outcome is unknown to the gateway), but running it again on B is a
# second write, which answers the client "conflict" for its own task.
{
    my $bp = node('askB', script => sub {
        my $r = Hotkey::Test::_proxy($rp, $_[0]);
        sleep 0.8 if bump('askB-slow') == 1;
        return $r;
    });
    my $ap = node('askA', script => sub { "-ASK $slot 127.0.0.1:$bp\r\n" });
    $t->start_nginx(conf('hotkey_store_cluster;', $ap));
    sleep 0.3;
    my $res = $t->request('POST', "$base/hotkey-task", [], '');
    is(count('askB-eval'), 1, 'ASK: a create slow on the ASK target is run '
                            . 'once') or diag "status $res->{status}: $res->{body}";
    isnt($res->{status}, 400, '... and not answered "conflict"');
    is(tasks(), 1, '... one task in the store');
    $t->stop_nginx;
    clear_tasks();
}

# ------------------------------- a node that failed is not asked again

# The map names C only (nobody listens); the seed A says MOVED to B; B answers
# late, every time.  The request meets B (late), then C (refused): B must
# not be asked a second time by it (a lost read timeout each time, and
# for a write a second run).
{
    my $cp = $t->port('deadC');
    my $ap = $t->port('mvA');
    my $bp = node('mvB', script => sub { sleep 0.8; Hotkey::Test::_proxy($rp, $_[0]) });
    node('mvA',
        slots => sub { slots_reply([0, 16383, '127.0.0.1', $cp]) },
        script => sub { "-MOVED $slot 127.0.0.1:$bp\r\n" });
    $t->start_nginx(conf('hotkey_store_cluster;', $ap));
    sleep 0.3;
    my $t0 = time;
    my $res = $t->get($t->list_path($pid, $iid, ''));
    my $took = time - $t0;
    is_json_error($res, 500, 'DCS.5000', qr/./, 'MOVED to a slow node: 500 JSON');
    is(count('mvB-eval'), 1, '... the slow node was asked once')
        or diag sprintf 'asked %d times, %.2f s', count('mvB-eval'), $took;
    $t->stop_nginx;
    $t->stop_fake('mvB');
    $t->stop_fake('mvA');
}

# --------------------------- a reload onto other seeds drops the old map

# cluster X (node X1) and cluster Y (node Y1): each answers CLUSTER SLOTS
# with itself.  After a reload from seeds X1 to seeds Y1 (X1 still up),
# no script goes to X1 any more.
{
    my $x = node('X1');
    my $y = node('Y1');
    $t->start_nginx(conf('hotkey_store_cluster;', $x));
    sleep 0.3;
    is($t->get($t->list_path($pid, $iid, ''))->{status}, 200, 'cluster X answers');
    ok(count('X1-eval') >= 1, '... from X1');
    my ($rc, $replaced) = $t->reload(conf('hotkey_store_cluster;', $y));
    ok($replaced, 'reloaded onto the seeds of cluster Y');
    my $before = count('X1-eval');
    my @st = map { $t->get($t->list_path($pid, $iid, ''))->{status} } 1 .. 10;
    is_deeply(\@st, [ (200) x 10 ], '... ten answers');
    is(count('X1-eval') - $before, 0, '... none from the old cluster X')
        or diag sprintf '%d of 10 from X, %d from Y', count('X1-eval') - $before,
                        count('Y1-eval');
    $t->stop_nginx;
}

# ------------------------------------------ many bad nodes, one nginx

# Each case is an upstream of its own (one seed, a fake node) behind a
# location /<case>/: its answer must be the contract's 500 JSON, within
# the timeouts (read timeout 500 ms, redirects 5: at most six attempts).
my $good = node('good');
my $dead = $t->port('dead');
my $garbage = $t->start_fake('garb', reply => "xyz\r\n");
my $silent = $t->start_fake('sil', mode => 'silent');
my %case = (
    moved_self  => sub { my $me = shift; "-MOVED $slot 127.0.0.1:$me\r\n" },
    moved_host  => sub { "-MOVED $slot redis-0.example.com:6379\r\n" },
    moved_dead  => sub { "-MOVED $slot 127.0.0.1:$dead\r\n" },
    moved_other => sub { my $me = shift; "-MOVED 0 127.0.0.1:$me\r\n" },
    moved_last  => sub { my $me = shift; "-MOVED 16383 127.0.0.1:$me\r\n" },
    moved_99999 => sub { "-MOVED 99999 127.0.0.1:$good\r\n" },
    moved_v6    => sub { "-MOVED $slot ::1:$dead\r\n" },
    ask_self    => sub { my $me = shift; "-ASK $slot 127.0.0.1:$me\r\n" },
    ask_garbage => sub { "-ASK $slot 127.0.0.1:$garbage\r\n" },
    ask_silent  => sub { "-ASK $slot 127.0.0.1:$silent\r\n" },
    ask_dead    => sub { "-ASK $slot 127.0.0.1:$dead\r\n" },
    tryagain    => sub { "-TRYAGAIN Multiple keys request during rehashing of slot\r\n" },
    clusterdown => sub { "-CLUSTERDOWN The cluster is down\r\n" },
    half_reply  => sub { "*3\r\n\$4\r\nabcd\r\n" },
);
my %ok_case = (
    moved_empty => sub { "-MOVED $slot :$good\r\n" },
    ask_good    => sub { "-ASK $slot 127.0.0.1:$good\r\n" },
    moved_good  => sub { "-MOVED $slot 127.0.0.1:$good\r\n" },
);
my $http = '';
for my $name (sort(keys %case), sort(keys %ok_case)) {
    my $fn = $case{$name} || $ok_case{$name};
    my $port = $t->port("c-$name");
    node("c-$name", script => sub { $fn->($port) },
         $name eq 'half_reply' ? (close_after => 1) : ());
    $http .= "    upstream $name {\n        hotkey_store_cluster;\n"
           . "        server 127.0.0.1:$port;\n    }\n";
}
my $locs = join '', map { <<"EOF" } sort(keys %case), sort(keys %ok_case);
        location /$_/ {
            rewrite ^/$_(/.*)\$ \$1 break;
            hotkey_api on;
            hotkey_auth off;
            hotkey_store $_;
            hotkey_store_read_timeout 500ms;
        }
EOF
$t->start_nginx($http . $t->api_server(store => 'moved_good',
                                      server_extra => $locs));
sleep 0.5;
for my $name (sort keys %case) {
    my $t0 = time;
    my $res = $t->request('GET', "/$name" . $t->list_path($pid, $iid, ''),
                          [], undef, timeout => 10);
    my $took = time - $t0;
    is_json_error($res, 500, 'DCS.5000', qr/./, "$name: 500 JSON");
    cmp_ok($took, '<', 3.2, sprintf '... within the timeouts (%.2f s)', $took);
}
for my $name (sort keys %ok_case) {
    my $res = $t->request('GET', "/$name" . $t->list_path($pid, $iid, ''),
                          [], undef, timeout => 10);
    is($res->{status}, 200, "$name: followed") or diag $res->{body};
}
ok($t->nginx_alive, 'nginx is alive');
idle_check($t, 'both workers idle after the bad nodes');
$t->stop_nginx;

# ----------------------------------- a burst while the map is still empty

# The seed answers CLUSTER SLOTS after 300 ms (all slots on G) and MOVED
# to G for the scripts.  60 requests at once, at start: every one is
# answered, and the map is not asked for by every request (one worker
# refreshes at a time).
{
    my $g = node('burstG');
    my $sp = $t->port('burstS');
    node('burstS',
         slots => sub { sleep 0.3; slots_reply([0, 16383, '127.0.0.1', $g]) },
         script => sub { "-MOVED $slot 127.0.0.1:$g\r\n" });
    $t->start_nginx(conf('hotkey_store_cluster;', $sp, { rt => '3s' }));
    my @c = map { Hotkey::Attack::Conn->new($t) } 1 .. 60;
    $_->send('GET', $t->list_path($pid, $iid, '')) for @c;
    my @st = map { $_->recv(timeout => 5)->{status} // 'none' } @c;
    is(scalar(grep { $_ eq '200' } @st), 60, '60 requests at start: all 200')
        or diag "@st";
    my $n = count('burstS-slots');
    cmp_ok($n, '<=', 4, "... and $n CLUSTER SLOTS to the seed");
    $_->close for @c;
    $t->stop_nginx;
}

# --------------------------------- clients that leave in a TRYAGAIN wait

# TRYAGAIN forever; clients go (close, or reset) 10 to 100 ms into it:
# the timer of the next try must not fire on a freed request.
{
    my $sp = node('tryS', script => sub {
        "-TRYAGAIN Multiple keys request during rehashing of slot\r\n" });
    $t->start_nginx(conf('hotkey_store_cluster;', $sp));
    sleep 0.3;
    for my $i (1 .. 30) {
        my $c = Hotkey::Attack::Conn->new($t);
        $c->send('GET', $t->list_path($pid, $iid, ''));
        sleep 0.01 + ($i % 10) * 0.01;
        $i % 2 ? $c->close : $c->reset;
    }
    sleep 0.6;
    my $res = $t->get($t->list_path($pid, $iid, ''));
    is_json_error($res, 500, 'DCS.5000', qr/./, 'TRYAGAIN after the aborts: 500 JSON');
    ok($t->nginx_alive, '... nginx alive');
    idle_check($t, '... both workers idle');
    $t->stop_nginx;
}

# ------------------------------------ reloads with requests mid-redirect

# Requests go seed -> MOVED -> a node answering in 200 ms; reloads land
# among them, one of them from the cluster store to a plain upstream and
# back: every request is answered (200), no worker dies.
{
    my $g = node('relG', script => sub { sleep 0.2; Hotkey::Test::_proxy($rp, $_[0]) });
    my $sp = node('relS', slots => sub { "*0\r\n" },
                  script => sub { "-MOVED $slot 127.0.0.1:$g\r\n" });
    my $cluster = conf('hotkey_store_cluster;', $sp);
    $t->start_nginx($cluster);
    sleep 0.3;
    my (@st, @c);
    for my $round (1 .. 3) {
        @c = map { Hotkey::Attack::Conn->new($t) } 1 .. 10;
        $_->send('GET', $t->list_path($pid, $iid, '')) for @c;
        sleep 0.05;
        my $plain = "    upstream cl {\n        server 127.0.0.1:$rp;\n"
                  . "    }\n" . $t->api_server(store => 'cl');
        $t->reload($round == 2 ? $plain : $cluster);
        push @st, map { my $r = $_->recv(timeout => 5);
                        ($r->{status} // 'none') . ($r->{status} && $r->{status} == 200 ? '' : " $round $r->{body}") } @c;
        $_->close for @c;
    }
    $t->reload($cluster);
    push @st, $t->get($t->list_path($pid, $iid, ''))->{status};
    is(scalar(grep { $_ eq '200' } @st), scalar(@st),
       'reloads (cluster, plain, cluster) mid-redirect: every answer 200')
        or diag "@st";
    ok($t->nginx_alive, '... nginx alive');
    $t->stop_nginx;
}

$t->done;
