#!/usr/bin/perl
# Details of tasks whose stored keys list holds nasty entries (api.md
# section 7): binary names, names holding '|', invalid UTF-8 (stray bytes,
# overlongs, surrogates, code points past U+10FFFF, cut sequences), control
# characters, 1024+ byte names, an empty name, module types as Redis
# reports them ("ReJSON-RL"), the largest size.  The answer is parsed as
# strict JSON (JSON::PP, utf8) and every name compared with the contract's
# form; malformed store data is a 500 DCS.5000, never a crash or broken
# JSON; HEAD answers as GET without a body.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use Hotkey::Test qw(:all);
use Hotkey::Attack qw(:all);

my $t = Hotkey::Test->new(workers => 2);
$t->start_redis;
my $P = hex32();
my ($I, $I2) = (uuid(), uuid());
$t->add_instance($I, project => $P);
$t->add_instance($I2, project => $P);
$t->start_nginx($t->api_server);

my $STRICT = JSON::PP->new->utf8;    # bytes in, strict UTF-8 JSON
my $M5000 = 'Internal service error.';

# the contract's form of a stored name (at most 1024 bytes here, except
# where the test says)
my $UTF8 = qr/[\x00-\x7f]|[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]
             |[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]
             |\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}
             |\xf4[\x80-\x8f][\x80-\xbf]{2}/x;

sub is_utf8_bytes { $_[0] =~ /\A(?:$UTF8)*\z/ }

sub cut {
    my ($n) = @_;
    return $n if length $n <= 1024;
    return substr($n, 0, 1024) unless is_utf8_bytes($n);
    my $k = 1024;
    $k-- while $k > 0 && (ord(substr($n, $k, 1)) & 0xc0) == 0x80;
    return substr($n, 0, $k);
}

sub expected_name {
    my ($n) = @_;
    $n = cut($n);
    if (is_utf8_bytes($n)) {
        my $v = $n;
        utf8::decode($v);
        return $v;
    }
    my $out = '';
    while (length $n) {
        if ($n =~ s/\A($UTF8)//) {
            my $c = $1;
            if ($c eq '\\') { $out .= '\\\\'; next }
            utf8::decode($c);
            $out .= $c;
        } else {
            $out .= sprintf('\\x%02x', ord substr($n, 0, 1, ''));
        }
    }
    return $out;
}

my $now = 1700000000000;
sub put_task {
    my ($iid, %o) = @_;
    my $tid = $o{id} // uuid();
    my $k = "hotkey:{$iid}:task:$tid";
    my $st = $o{status} // 'success';
    $t->redis('DEL', $k, "$k:keys");
    $t->redis('HSET', $k, 'id', $o{hash_id} // $tid, 'status', $st,
              'scan_type', 'manual', 'created_at', $now, 'started_at', $now + 1,
              'finished_at', $now + 2);
    $t->redis('ZADD', "hotkey:{$iid}:tasks", $now, $tid);
    $t->redis('ZADD', "hotkey:{$iid}:tasks:$st", $now, $tid);
    $t->redis('RPUSH', "$k:keys", @{ $o{keys} }) if $o{keys} && @{ $o{keys} };
    $now += 10;
    return $tid;
}

sub details { $t->get("/v2/$P/instances/$_[0]/hotkey-task/$_[1]") }

# ------------------------------------------------------------ nasty names
my @names = (
    'plain', 'a|b|c|d', '||', 'back\\slash', "q\"uote \x01\x1f\x7f\n\t\r\x08\x0c",
    "\xff\xfe", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xed\xbf\xbf",
    "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "a\\\xff\xc3\xa9b", "abc\xe2\x82",
    "\xe2\x82abc", '', "\xf0\x9f\x94\xa5", "\xe2\x80\xa8\xe2\x80\xa9",
    "\xef\xbb\xbfbom", "\x00nul\x00", "\\x41", "\\xzz\xff", "</script>",
    join('', map { chr } 0 .. 255), 'x' x 1024, 'y' x 1500,
    'x' . ("\xc3\xa9" x 1000), "\xff" . ('\\' x 1100), ("\x01" x 1100),
);
my $i = 0;
my @entries = map {
    my $f = 255 - $i++;
    "$f|0|string|" . length($_) . "|byte|127.0.0.1:6379|$_"
} @names;
my $tid = put_task($I, keys => \@entries);
{
    my $r = details($I, $tid);
    is($r->{status}, 200, 'nasty names: 200');
    my $j = eval { $STRICT->decode($r->{body}) };
    ok($j, 'nasty names: the answer is strict UTF-8 JSON') or diag($@);
    if ($j) {
        is($j->{num}, scalar @names, 'num counts every key');
        is(scalar @{ $j->{keys} }, scalar @names, 'every key listed');
        for my $k (0 .. $#names) {
            my $got = $j->{keys}[$k]{name};
            my $exp = expected_name($names[$k]);
            my $show = $names[$k];
            $show = substr($show, 0, 20) . '...' if length $show > 20;
            $show =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
            is($got, $exp, "name \"$show\" as the contract writes it")
                or diag('got ' . length($got // '') . ' chars, expected '
                        . length($exp));
        }
        is_deeply([map { $_->{freq} } @{ $j->{keys} }],
                  [map { 255 - $_ } 0 .. $#names], 'freq as stored, in order');
    }
    # the raw bytes hold no invalid UTF-8 and no raw control character
    ok(is_utf8_bytes($r->{body}), 'the raw answer is valid UTF-8');
    ok($r->{body} !~ /[\x00-\x1f]/, 'no raw control character in the answer');
}

# ------------------------------------------------------------ other fields
{
    my @k = (
        '9|15|stream|3|count|[::1]:6379|s',
        '8|2147483647|zset|18446744073709551615|count|redis-0.svc.local:6379|z',
        '5|0|hash|0|count|H:1|h',
    );
    my $tid = put_task($I, keys => \@k);
    my $r = details($I, $tid);
    is($r->{status}, 200, 'a stream, a u64 size, IPv6 and names as shards: 200')
        or diag($r->{body});
    my $j = eval { $STRICT->decode($r->{body}) } || {};
    is_deeply([map { $_->{type} } @{ $j->{keys} || [] }], [qw(stream zset hash)],
              'the types');
    like($r->{body} // '', qr/"size":18446744073709551615[,}]/, 'the largest size, exact');
    like($r->{body} // '', qr/"db":2147483647[,}]/, 'db 2147483647');
    like($r->{body} // '', qr/"shard":"\[::1\]:6379"/, 'an IPv6 shard');

    # a module's type, as TYPE reports it (RedisJSON, RedisBloom), with its
    # MEMORY USAGE in bytes: "the type Redis reports for any other"
    for my $type (qw(ReJSON-RL MBbloom-- TSDB-TYPE)) {
        $tid = put_task($I, keys => ["7|0|$type|4096|byte|10.0.0.1:7000|m"]);
        $r = details($I, $tid);
        is($r->{status}, 200, "a key of module type $type: 200") or diag($r->{body});
        $j = eval { $STRICT->decode($r->{body}) } || {};
        is($j->{keys} && $j->{keys}[0]{type}, $type, "... type \"$type\" as Redis reports it");
    }
}

# ------------------------------------------------------------ 100 and 101
{
    my @k = map { sprintf('%d|0|string|1|byte|h:1|k%03d', 200 - $_, $_) } 0 .. 99;
    my $tid = put_task($I, keys => \@k);
    my $r = details($I, $tid);
    is($r->{status}, 200, '100 keys: 200');
    my $j = eval { $STRICT->decode($r->{body}) } || {};
    is($j->{num}, 100, '100 keys: num 100');
    $tid = put_task($I, keys => [@k, '1|0|string|1|byte|h:1|extra']);
    $r = details($I, $tid);
    ok(($r->{status} // 0) == 500
       || (($r->{status} // 0) == 200 && ($j = eval { $STRICT->decode($r->{body}) })
           && $j->{num} == @{ $j->{keys} } && $j->{num} <= 100),
       '101 stored keys: a 500, or at most 100 keys with num their count')
        or diag($r->{body});
}

# ------------------------------------------------------------ malformed
my %bad = (
    'freq 256' => ['256|0|string|1|byte|h:1|a'],
    'freq -1' => ['-1|0|string|1|byte|h:1|a'],
    'a missing field' => ['5|0|string|1|byte'],
    'only a name' => ['justaname'],
    'size past 2^64' => ['5|0|string|18446744073709551616|byte|h:1|a'],
    'size not a number' => ['5|0|string|1e3|byte|h:1|a'],
    'unit "bytes"' => ['5|0|string|1|bytes|h:1|a'],
    'db negative' => ['5|-1|string|1|byte|h:1|a'],
    'a shard with a quote' => ['5|0|string|1|byte|h"1|a'],
    'a type with a quote' => ['5|0|str"ing|1|byte|h:1|a'],
    'an empty type' => ['5|0||1|byte|h:1|a'],
    'a good entry then a bad one' => ['5|0|string|1|byte|h:1|a', 'garbage'],
);
for my $name (sort keys %bad) {
    my $tid = put_task($I, keys => $bad{$name});
    is_json_error(details($I, $tid), 500, 'DCS.5000', $M5000, "stored key $name: 500 DCS.5000");
}
{
    my $other = uuid();
    my $tid = put_task($I, hash_id => $other, keys => []);
    is_json_error(details($I, $tid), 500, 'DCS.5000', $M5000,
                  'a record whose id is another task\'s: 500');
    $tid = put_task($I, status => 'done');
    is_json_error(details($I, $tid), 500, 'DCS.5000', $M5000, 'an unknown status: 500');
    $tid = put_task($I);
    $t->redis('SET', "hotkey:{$I}:task:$tid:keys", 'not a list');
    is_json_error(details($I, $tid), 500, 'DCS.5000', $M5000,
                  'a keys list that is a string (WRONGTYPE in the script): 500');
    $tid = put_task($I);
    my $r = details($I, $tid);
    is($r->{status}, 200, 'success with no keys list: 200');
    is_deeply(eval { $STRICT->decode($r->{body}) }, {
        id => $tid, instance_id => $I, status => 'success', scan_type => 'manual',
        created_at => ms_to_iso($now - 10), started_at => ms_to_iso($now - 9),
        finished_at => ms_to_iso($now - 8), num => 0, keys => [] },
        '... with "keys":[] and num 0');
    my $w = put_task($I, status => 'waiting');
    $t->redis('HDEL', "hotkey:{$I}:task:$w", 'started_at', 'finished_at');
    $r = details($I, $w);
    is_deeply(eval { $STRICT->decode($r->{body}) }, {
        id => $w, instance_id => $I, status => 'waiting', scan_type => 'manual',
        created_at => ms_to_iso($now - 10), num => 0 }, 'a waiting task: num 0, no keys');
    is_json_error(details($I2, $tid), 400, 'DCS.4941', 'The hotkey id does not exist.',
                  'a task of another instance of the same project: DCS.4941');
}

# ------------------------------------------------------------ HEAD
{
    my $g = details($I, $tid);
    my $h = $t->head("/v2/$P/instances/$I/hotkey-task/$tid");
    is($h->{status}, 200, 'HEAD details: 200');
    is($h->{headers}{'content-length'}, $g->{headers}{'content-length'},
       'HEAD details: the GET\'s Content-Length');
    is($h->{body}, '', 'HEAD details: no body');
    my $h2 = $t->head("/v2/$P/instances/$I/hotkey-task/" . uuid());
    is($h2->{status}, 400, 'HEAD of an unknown task: 400');
}

# ------------------------------------------------------------ still serving
is(details($I, $tid)->{status}, 200, 'still answering after the malformed data');
$t->allow_log(qr/hotkey/);
$t->done;
