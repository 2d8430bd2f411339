#!/usr/bin/perl
# An instance with 10,000 tasks: count, first page, deep offsets, the
# largest page at a deep offset, status filters, ordering across pages.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Hotkey::Test qw(:all);

my $t = Hotkey::Test->new;
$t->start_redis;

my $N = 10_000;
my $pid = uuid();
my $iid = uuid();
$t->add_instance($iid, project => $pid);

# created_at: groups of three tasks share one millisecond (ties broken by
# id), times spread over ~7 days; statuses 40% success, 30% failed, 20%
# waiting, 10% running; scan types alternate.
my @st = ((('success') x 4), (('failed') x 3), (('waiting') x 2), 'running');
my $base = 1700000000000;
my @tasks;
srand(45);
for my $i (0 .. $N - 1) {
    push @tasks, Hotkey::Test::make_task(
        status => $st[$i % 10], scan_type => $i % 7 ? 'auto' : 'manual',
        created_at => $base + int($i / 3) * 181);
}
# shuffle the write order so that nothing depends on insertion order
for (my $i = $#tasks; $i > 0; $i--) {
    my $j = int rand($i + 1);
    @tasks[$i, $j] = @tasks[$j, $i];
}
$t->add_tasks($iid, @tasks);
is($t->redis('ZCARD', $t->index_key($iid)), $N, "$N tasks loaded");

$t->start_nginx($t->api_server);

my %count;
$count{ $_->{status} }++ for @tasks;

sub check {
    my ($q, %e) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $r = $t->list($pid, $iid, $q);
    return is_json_ok($r, expected_list($iid, \@tasks, %e), "?$q");
}

{
    my $r = $t->list($pid, $iid);
    is_json_ok($r, expected_list($iid, \@tasks), 'first page (defaults)');
    is($r->{json}{count}, $N, "count is $N") if ref $r->{json} eq 'HASH';
}
check('offset=9990', offset => 9990);
check('offset=9995&limit=10', offset => 9995, limit => 10);
check('offset=9999', offset => 9999);
check('offset=9999&limit=1000', offset => 9999, limit => 1000);
check('offset=10000', offset => 10000);
check('offset=10001&limit=1000', offset => 10001, limit => 1000);
check('offset=5000&limit=1000', offset => 5000, limit => 1000);
check('offset=9000&limit=1000', offset => 9000, limit => 1000);
check('offset=8999&limit=1000', offset => 8999, limit => 1000);
check('offset=0&limit=1000', offset => 0, limit => 1000);
check('offset=4321&limit=7', offset => 4321, limit => 7);

for my $s (sort keys %count) {
    my $n = $count{$s};
    check("status=$s", status => $s);
    check("status=$s&offset=" . ($n - 5), status => $s, offset => $n - 5);
    check("status=$s&offset=" . ($n - 1) . '&limit=1000', status => $s, offset => $n - 1, limit => 1000);
    check("status=$s&offset=$n", status => $s, offset => $n);
    check("status=$s&offset=" . int($n / 2) . '&limit=1000', status => $s, offset => int($n / 2), limit => 1000);
}

# the whole list in ten pages of 1000: the concatenation is the full order,
# no task twice, none missing
{
    my @ids;
    my $ok = 1;
    for my $p (0 .. 9) {
        my $r = $t->list($pid, $iid, 'limit=1000&offset=' . $p * 1000);
        if (($r->{status} // 0) != 200 || ref $r->{json} ne 'HASH') { $ok = 0; last }
        push @ids, map { $_->{id} } @{ $r->{json}{records} };
    }
    ok($ok, 'ten pages of 1000 answered');
    my @want = map { $_->{id} }
               sort { $b->{created_at} <=> $a->{created_at} || $b->{id} cmp $a->{id} } @tasks;
    is(scalar @ids, $N, "$N records over the ten pages");
    my %seen;
    is(scalar(grep { !$seen{$_}++ } @ids), $N, 'no record twice');
    my $first_diff = (grep { ($ids[$_] // '') ne $want[$_] } 0 .. $#want)[0];
    ok(!defined $first_diff, 'pages follow created_at desc, id desc')
        or diag("first difference at position $first_diff");
}

# the store changes between two page reads: a new task shifts the window
{
    my $new = $t->add_task($iid, status => 'waiting', created_at => $base + 10_000_000);
    push @tasks, $new;
    $count{waiting}++;
    check('offset=10000', offset => 10000);
    check('limit=1', limit => 1);
    check('status=waiting&limit=2', status => 'waiting', limit => 2);
}

# a tolerable size: the largest page is about 1000 records, not the instance
{
    my $r = $t->list($pid, $iid, 'limit=1000');
    my $len = length($r->{body} // '');
    ok($len > 100_000 && $len < 400_000, "a page of 1000 records is $len bytes");
}

$t->done;
