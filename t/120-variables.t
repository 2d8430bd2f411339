#!/usr/bin/perl
# The module's log variables, read back from an access log:
# $hotkey_instance_id, $hotkey_error_code, $hotkey_store_time,
# $hotkey_cache_status, and $hotkey_instance_id steering an upstream's
# "hash ... consistent" so one instance always reaches one store.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Hotkey::Test qw(:all);

my $t = Hotkey::Test->new(workers => 1);
$t->start_redis;

my $pid = hex32();
my $iid = uuid();
$t->add_instance($iid, project => $pid);
$t->add_tasks($iid, { status => 'success', created_at => 1592187678669,
                      started_at => 1592187683534,
                      finished_at => 1592187685588 });

my $log = $t->{prefix} . '/logs/vars.log';
my $http = <<"EOF";
    log_format vars '\$request_uri|\$status|\$hotkey_instance_id|'
                    '\$hotkey_error_code|\$hotkey_store_time|'
                    '\$hotkey_cache_status';
    hotkey_cache_zone vars:1m;
EOF
$http .= $t->api_server(extra => "            access_log $log vars;\n"
                               . "            hotkey_cache vars;\n");
$t->start_nginx($http);

# the line of the request just answered: the log phase may run a moment
# after the client has the answer, so wait for one more line than seen
my $seen = 0;

sub last_line {
    for (1 .. 50) {
        if (open my $fh, '<', $log) {
            my @l = <$fh>;
            close $fh;
            if (@l > $seen && $l[-1] =~ /\n\z/) {
                $seen = @l;
                chomp(my $line = $l[-1]);
                return [ split /\|/, $line, -1 ];
            }
        }
        select(undef, undef, undef, 0.05);
    }
    return [];
}

my $r = $t->list($pid, $iid);
is($r->{status}, 200, 'a list: 200');
my $v = last_line();
is($v->[2], $iid, '$hotkey_instance_id is the path\'s instance');
is($v->[3], '-', '$hotkey_error_code is empty on success');
like($v->[4], qr/^\d+\.\d{6}$/, '$hotkey_store_time: seconds with microseconds');
cmp_ok($v->[4], '<', 1, '... and under a second');
is($v->[5], 'MISS', '$hotkey_cache_status: MISS');

$t->list($pid, $iid);
$v = last_line();
is($v->[4], '-', 'a cache hit has no store time');
is($v->[5], 'HIT', '... and is a HIT');

$t->list($pid, $iid, 'limit=0');
$v = last_line();
is($v->[1], 400, 'a bad limit: 400');
is($v->[3], 'DCS.4062', '$hotkey_error_code: DCS.4062');

$t->list($pid, 'NOT-A-UUID');
$v = last_line();
is($v->[2], '-', 'an invalid instance id gives an empty $hotkey_instance_id');
is($v->[3], 'DCS.4061', '... and DCS.4061');

$t->list($pid, uuid());
$v = last_line();
is($v->[3], 'DCS.3022', 'an unknown instance: DCS.3022 from the store');

# hash $hotkey_instance_id consistent over two stores: every request for
# one instance reaches the same Redis
$t->stop_nginx;
my $p2 = $t->port('second_redis');
my $dir2 = $t->{prefix} . '/redis2';
mkdir $dir2;
system("redis-server --port $p2 --bind 127.0.0.1 --save '' --appendonly no"
       . " --dir $dir2 --daemonize yes --logfile $dir2/log") == 0
    or BAIL_OUT('second redis-server');
for (1 .. 50) {
    last if `redis-cli -p $p2 ping 2>/dev/null` =~ /PONG/;
    select(undef, undef, undef, 0.05);
}
my $rp = $t->{redis_port};
$http = <<"EOF";
    upstream sharded {
        hash \$hotkey_instance_id consistent;
        server 127.0.0.1:$rp;
        server 127.0.0.1:$p2;
        keepalive 8;
    }
EOF
$http .= $t->api_server(store => 'sharded');
$t->start_nginx($http);

# an instance loaded into the first store only: 200 on every request when
# it hashes there, 404 on every request when it hashes to the other.  The
# ring depends on the ports of this run, so instances are added until both
# stores were seen (12 at least, 64 at most).
my ($first, $n) = (0, 0);
while ($n < 12 || ($first == 0 || $first == $n) && $n < 64) {
    $n++;
    my $i = uuid();
    $t->add_instance($i, project => $pid);
    my @s = map { $t->list($pid, $i)->{status} } 1 .. 4;
    my $want = $s[0] == 200 ? 200 : 404;
    is_deeply(\@s, [ ($want) x 4 ], "instance $n always reaches the same store ($want)");
    $first++ if $want == 200;
}
ok($first > 0 && $first < $n, "instances spread over both stores ($first of $n on the first)");

system("redis-cli -p $p2 shutdown nosave >/dev/null 2>&1");
$t->done;
