#!/usr/bin/perl
# The list route's 200 answers: shape, fields, time formats, ordering,
# paging, the status filter, HEAD.  Expected answers are computed from the
# fixtures loaded here.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Hotkey::Test qw(:all);

my $t = Hotkey::Test->new;
$t->start_redis;

my $pid = hex32();
my $iid = uuid();
$t->add_instance($iid, project => $pid);

# 25 tasks: every status, both scan types, some equal created_at (ties
# broken by id descending), a task with millisecond 0 and one with a time
# whose milliseconds need zero padding.
my $base = 1592187678669;    # 2020-06-15T02:21:18.669Z
my @tasks;
my @st = qw(waiting running success failed);
for my $i (0 .. 24) {
    my %o = (status => $st[$i % 4], scan_type => $i % 3 ? 'manual' : 'auto');
    # tasks 10..14 share one created_at
    $o{created_at} = $i >= 10 && $i <= 14 ? $base + 10_000 : $base + $i * 60_000 + $i;
    push @tasks, \%o;
}
push @tasks, { status => 'success', created_at => 1600000000000,
               started_at => 1600000000005, finished_at => 1600000001050 };
push @tasks, { status => 'failed', created_at => 946684800000,    # 2000-01-01
               started_at => 946684800000, finished_at => 951782400999 }; # leap day 2000-02-29
@tasks = $t->add_tasks($iid, @tasks);

# an instance with no tasks; a dashed-UUID project
my $pid2 = uuid();
my $empty = uuid();
$t->add_instance($empty, project => $pid2);

# the example record of api.md, with its exact values
my $iid3 = uuid();
$t->add_instance($iid3, project => $pid2, policy => 'volatile-lfu');
my @ex = $t->add_tasks($iid3, {
    id => '858ee14c-2271-4489-8b82-7bda7459ae3e', status => 'success',
    scan_type => 'manual', created_at => 1592187678669,
    started_at => 1592187683534, finished_at => 1592187685588 });

$t->start_nginx($t->api_server);

# ---- the example of the contract, byte for byte values
{
    my $r = $t->list($pid2, $iid3);
    is_json_ok($r, {
        instance_id => $iid3, count => 1, records => [ {
            id => '858ee14c-2271-4489-8b82-7bda7459ae3e', status => 'success',
            scan_type => 'manual', created_at => '2020-06-15T02:21:18.669Z',
            started_at => '2020-06-15T02:21:23.534Z',
            finished_at => '2020-06-15T02:21:25.588Z' } ] },
        'the contract example record (volatile-lfu instance, dashed project id)');
    like($r->{headers}{'content-type'} // '', qr{^application/json}, 'Content-Type application/json');
    # count is a JSON number, not a string
    like($r->{body} // '', qr/"count"\s*:\s*1[,}]/, 'count is a JSON number');
}

# ---- default page
{
    my $r = $t->list($pid, $iid);
    my $exp = expected_list($iid, \@tasks);
    is_json_ok($r, $exp, 'no parameters: count of all, first 10 newest first');
    is(scalar @{ $r->{json}{records} || [] }, 10, 'default limit is 10');
    if (ref $r->{json} eq 'HASH') {
        my @k = sort keys %{ $r->{json} };
        is("@k", 'count instance_id records', 'top level has exactly instance_id, count, records');
    }
}

# ---- fields of every record, in one big page
{
    my $r = $t->list($pid, $iid, 'limit=1000');
    my $exp = expected_list($iid, \@tasks, limit => 1000);
    is_json_ok($r, $exp, 'limit=1000: all records, exact fields');
    my $recs = ref $r->{json} eq 'HASH' ? $r->{json}{records} : [];
    my $bad = 0;
    for my $rec (@$recs) {
        for my $f (qw(created_at started_at finished_at)) {
            next unless exists $rec->{$f};
            $bad++ unless $rec->{$f} =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
        }
        my $want = $rec->{status} eq 'waiting' ? 'created_at id scan_type status'
                 : $rec->{status} eq 'running' ? 'created_at id scan_type started_at status'
                 : 'created_at finished_at id scan_type started_at status';
        my $got = join ' ', sort keys %$rec;
        $bad++, diag("record $rec->{id}: fields ($got), expected ($want)")
            unless $got eq $want;
    }
    is($bad, 0, 'every time is YYYY-MM-DDTHH:MM:SS.mmmZ; waiting has no started_at/finished_at, running no finished_at');
    my ($w) = grep { $_->{status} eq 'waiting' } @$recs;
    ok($w && !exists $w->{started_at} && !exists $w->{finished_at},
       'a waiting task leaves its times out (not null, not empty)');
    unlike($r->{body} // '', qr/null/, 'no null anywhere in the body');

    my ($y2k) = grep { $_->{created_at} =~ /^2000/ } @$recs;
    is_deeply([ @{ $y2k || {} }{qw(created_at started_at finished_at)} ],
              [ '2000-01-01T00:00:00.000Z', '2000-01-01T00:00:00.000Z',
                '2000-02-29T00:00:00.999Z' ], 'millisecond 000, leap day, .999');
    my ($pad) = grep { $_->{created_at} =~ /^2020-09-13/ } @$recs;
    is_deeply([ @{ $pad || {} }{qw(created_at started_at finished_at)} ],
              [ '2020-09-13T12:26:40.000Z', '2020-09-13T12:26:40.005Z',
                '2020-09-13T12:26:41.050Z' ], 'milliseconds zero-padded');
}

# ---- ordering: created_at desc, then id desc
{
    my $r = $t->list($pid, $iid, 'limit=100');
    my @got = map { $_->{id} } @{ ref $r->{json} eq 'HASH' ? $r->{json}{records} : [] };
    my @tie = sort { $b cmp $a } map { $_->{id} }
              grep { $_->{created_at} == $base + 10_000 } @tasks;
    my %pos;
    @pos{@got} = 0 .. $#got;
    my @tie_pos = map { $pos{$_} // -1 } @tie;
    is_deeply(\@tie_pos, [ map { $tie_pos[0] + $_ } 0 .. 4 ],
              'five tasks with equal created_at come together, id descending')
        or diag("tie ids: @tie\ngot order: @got");
}

# ---- paging: every (offset, limit) window is the slice of the full order
for my $q ([0, 1], [1, 1], [5, 5], [10, 10], [20, 10], [26, 10], [3, 7],
           [26, 1], [0, 27], [0, 28])
{
    my ($off, $lim) = @$q;
    my $r = $t->list($pid, $iid, "offset=$off&limit=$lim");
    is_json_ok($r, expected_list($iid, \@tasks, offset => $off, limit => $lim),
               "offset=$off limit=$lim");
}
{
    my $r = $t->list($pid, $iid, 'limit=5&offset=5');
    is_json_ok($r, expected_list($iid, \@tasks, offset => 5, limit => 5),
               'parameter order does not matter');
    $r = $t->list($pid, $iid, 'offset=3');
    is_json_ok($r, expected_list($iid, \@tasks, offset => 3), 'offset alone, default limit 10');
}

# ---- offset at and past count
for my $off (27, 28, 100, 2147483647) {
    my $r = $t->list($pid, $iid, "offset=$off");
    is_json_ok($r, { instance_id => $iid, count => 27, records => [] },
               "offset=$off (count 27): empty records, right count");
    like($r->{body} // '', qr/"records"\s*:\s*\[\s*\]/, "offset=$off: records is an empty array");
}

# ---- status filter: its own count, its own paging
for my $s (qw(waiting running success failed)) {
    my $r = $t->list($pid, $iid, "status=$s");
    is_json_ok($r, expected_list($iid, \@tasks, status => $s), "status=$s");
    $r = $t->list($pid, $iid, "status=$s&offset=2&limit=3");
    is_json_ok($r, expected_list($iid, \@tasks, status => $s, offset => 2, limit => 3),
               "status=$s offset=2 limit=3");
    my $n = grep { $_->{status} eq $s } @tasks;
    $r = $t->list($pid, $iid, "status=$s&offset=$n");
    is_json_ok($r, { instance_id => $iid, count => $n, records => [] },
               "status=$s offset=count: empty page, count $n");
}

# ---- an instance with no tasks
{
    my $r = $t->list($pid2, $empty);
    is_json_ok($r, { instance_id => $empty, count => 0, records => [] }, 'no tasks: count 0, []');
    $r = $t->list($pid2, $empty, 'status=running&offset=5&limit=1000');
    is_json_ok($r, { instance_id => $empty, count => 0, records => [] }, 'no tasks, filtered: count 0');
}

# ---- changes in the store are seen at once
{
    my $new = $t->add_task($iid, status => 'waiting', created_at => 2000000000000);
    push @tasks, $new;
    my $r = $t->list($pid, $iid, 'limit=1');
    is_json_ok($r, expected_list($iid, \@tasks, limit => 1), 'a new task shows first');
    is($r->{json}{count}, 28, 'count follows the store') if ref $r->{json} eq 'HASH';
}

# ---- HEAD: same status and headers as GET, no body
{
    my $path = $t->list_path($pid, $iid, 'limit=3');
    my $g = $t->get($path);
    my $h = $t->head($path);
    is($h->{status}, 200, 'HEAD: 200');
    is($h->{headers}{'content-type'}, $g->{headers}{'content-type'}, 'HEAD: same Content-Type');
    is($h->{headers}{'content-length'}, $g->{headers}{'content-length'},
       'HEAD: same Content-Length as GET')
        if defined $g->{headers}{'content-length'};
    is($h->{body}, '', 'HEAD: no body');
    # nothing after the headers on the wire: a second request on the same
    # connection parses cleanly
    my $rs = $t->raw("HEAD $path HTTP/1.1\r\nHost: localhost\r\n\r\n"
                   . "GET $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                     responses => 2, heads => [1, 0]);
    is($rs->[0]{status}, 200, 'HEAD then GET on one connection: HEAD 200');
    is_json_ok($rs->[1], expected_list($iid, \@tasks, limit => 3),
               'HEAD then GET on one connection: the GET is intact');
    # an error answer to HEAD has no body either
    my $e = $t->head($t->list_path($pid, $iid, 'limit=0'));
    is($e->{status}, 400, 'HEAD with a bad limit: 400');
    is($e->{body}, '', 'HEAD error: no body');
    like($e->{headers}{'content-type'} // '', qr{^application/json}, 'HEAD error: JSON Content-Type');
}

# ---- keepalive: several requests on one connection
{
    my $path = $t->list_path($pid, $iid, 'limit=2');
    my $one = "GET $path HTTP/1.1\r\nHost: localhost\r\n\r\n";
    my $rs = $t->raw($one x 4 . "GET $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                     responses => 5);
    my $ok = grep { ($_->{status} // 0) == 200 && ref $_->{json} eq 'HASH'
                    && $_->{json}{count} == 28 } @$rs;
    is($ok, 5, 'five pipelined keepalive requests all answered');
}

# ---- HTTP/1.0
{
    my $r = $t->raw("GET " . $t->list_path($pid, $iid, 'limit=1') . " HTTP/1.0\r\n\r\n");
    is_json_ok($r, expected_list($iid, \@tasks, limit => 1), 'HTTP/1.0 without Host');
}

$t->done;
