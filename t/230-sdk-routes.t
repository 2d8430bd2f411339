#!/usr/bin/perl
# Every route through the official SDK: t/sdk/dcs.js sends each DCS
# operation (CreateHotkeyScanTask, ShowHotkeyTaskDetails,
# DeleteHotkeyScanTask, ListHotKeyScanTasks, ShowHotkeyAutoscanConfig,
# UpdateHotkeyAutoScanConfig) as the generated DcsClient builds it, with
# the official core's HcClient, signed with AK/SK (BasicCredentials with
# the project id), against the real gateway and a real redis-server.
# Success answers are read as the SDK returns them (its response models'
# fields, nothing else); every error answer of the contract as the SDK
# raises it (status, error_code, error_msg, request id from
# X-Request-Id). Races: two creates at once (one 200, one DCS.4026);
# delete while running (DCS.4957). The analyzer's part is played by the
# test with scripts/put-task.lua and the README's keys list.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use Hotkey::Test qw(:all);
use Hotkey::Auth qw(:all);

my $top = Hotkey::Test->top;
my $dcsjs = "$FindBin::Bin/sdk/dcs.js";

my ($rc, $out) = sh("$top/scripts/test-deps.sh");
is($rc, 0, 'scripts/test-deps.sh installs the SDK core') or diag $out;
my $sdkdir = ($ENV{HOTKEY_BUILD} || "$top/build") . '/node/node_modules/@huaweicloud/huaweicloud-sdk-core';
ok(-f "$sdkdir/package.json", 'the SDK core is installed') or do { done_testing(); exit 1 };

my $t = Hotkey::Test->new;
$t->start_redis;

my $P = hex32();
my $P2 = uuid();
my ($I, $ILRU, $IOTHER, $IMISSING) = (uuid(), uuid(), uuid(), uuid());
$t->add_instance($I, project => $P);
$t->add_instance($ILRU, project => $P, policy => 'allkeys-lru');
$t->add_instance($IOTHER, project => $P2);

my $ALL = 'dcs:instance:listHotKey,dcs:instance:analyze,dcs:instance:getHotKeyAutoScanConfig,'
        . 'dcs:instance:updateHotKeyAutoScanConfig';
my ($AK, $SK) = ('SDKROUTESAK01', 'routes/SK+' . hex32());
my ($AKL, $SKL) = ('SDKLISTONLY02', 'list/SK+' . hex32());
my ($AKR, $SKR) = ('SDKRATED03', 'rated/SK+' . hex32());
my $creds = $t->prefix . '/conf/credentials';
spew($creds, "$AK $SK projects=* actions=$ALL name=all\n"
           . "$AKL $SKL projects=$P actions=dcs:instance:listHotKey name=listonly\n"
           . "$AKR $SKR projects=$P actions=$ALL name=rated rate=1r/m burst=1\n", 0600);
my $http = "    hotkey_rate_limit_zone hk_sdk_rl:1m;\n"
         . auth_server($t, creds => $creds,
                       extra => "            hotkey_rate_limit hk_sdk_rl rate=1000r/s burst=1000;\n");
$t->start_nginx($http);
my $base = 'http://127.0.0.1:' . $t->nginx_port;

# sdk(@requests): each request (a hash ref; an array ref is a set sent at
# once) through dcs.js in one node process; returns the answers
sub sdk {
    my (@reqs) = @_;
    my $fill = sub {
        my ($r) = @_;
        return { endpoint => $base, ak => $AK, sk => $SK, project_id => $P,
                 instance_id => $I, %$r };
    };
    my $lines = join '', map {
        json_encode(ref $_ eq 'ARRAY' ? { parallel => [ map { $fill->($_) } @$_ ] }
                                      : $fill->($_)) . "\n"
    } @reqs;
    my $in = $t->prefix . '/tmp/dcs-batch.jsonl';
    spew($in, $lines);
    my $o = `timeout 120 node '$dcsjs' < '$in' 2>&1`;
    die "dcs.js failed (rc $?): $o" if $?;
    my @res = map { json_decode($_) } grep { /^[\[{]/ } split /\n/, $o;
    die "dcs.js: " . scalar(@res) . " answers for " . scalar(@reqs) . ": $o" unless @res == @reqs;
    return wantarray ? @res : $res[0];
}

my %seen_rid;
# is_sdk_error($answer, $status, $code, $msg, $name)
sub is_sdk_error {
    my ($a, $status, $code, $msg, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $exc = $status >= 500 ? 'ServerResponseException' : 'ClientRequestException';
    my $got = join ' | ', map { $_ // 'undef' } @$a{qw(ok name status error_code)};
    my $ok = is($got, "0 | $exc | $status | $code", "$name: the SDK raises $status $code");
    $ok &&= is($a->{error_msg}, $msg, "$name: error_msg") if defined $msg;
    my $rid = $a->{request_id} // '';
    ok($rid =~ /^[\x21-\x7e]{8,}$/ && !$seen_rid{$rid}++,
       "$name: request id from X-Request-Id, unique") or diag "request id '$rid'";
    diag json_encode($a) unless $ok;
    return $ok;
}

sub is_sdk_ok {
    my ($a, $status, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = ok($a->{ok} && $a->{status} == $status, "$name: $status, parsed by the SDK")
        or diag json_encode($a);
    is_deeply($a->{unknown} // [], [], "$name: only the response model's fields") if $a->{ok};
    return $ok;
}

my $ISO = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
my $UUID = qr/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

my $put = slurp("$top/scripts/put-task.lua");
sub put_task {
    my ($iid, $tid, $status, $created, $started, $finished) = @_;
    my $p = "hotkey:{$iid}";
    my $r = $t->redis('EVAL', $put, 6, "$p:task:$tid", "$p:tasks", map({ "$p:tasks:$_" }
                      qw(waiting running success failed)), $tid, $status, 'manual',
                      $created, $started // '', $finished // '');
    die "put-task: $r->{err}" if ref $r eq 'HASH';
    $t->redis('LREM', "$p:queue", 0, $tid);
    $t->redis('PUBLISH', 'hotkey:changes', $iid);
}

sub iso_to_ms {
    my ($s) = @_;
    my ($Y, $M, $D, $h, $m, $sec, $ms) = $s =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)\.(\d+)Z$/ or return;
    require Time::Local;
    return Time::Local::timegm($sec, $m, $h, $D, $M - 1, $Y) * 1000 + $ms;
}

my %OPS = (
    CreateHotkeyScanTask => {}, ShowHotkeyTaskDetails => { task => 1 },
    DeleteHotkeyScanTask => { task => 1 }, ListHotKeyScanTasks => {},
    ShowHotkeyAutoscanConfig => {},
    UpdateHotkeyAutoScanConfig => { body => { enable_auto_scan => JSON::PP::false, schedule_at => [] } },
);
sub each_op {
    my (%r) = @_;
    return map { my $o = $_;
                 { op => $o, ($OPS{$o}{task} ? (hotkey_id => uuid()) : ()),
                   ($OPS{$o}{body} ? (body => $OPS{$o}{body}) : ()), %r } } sort keys %OPS;
}

# ------------------------------------------------------------ settings
my ($a) = sdk({ op => 'ShowHotkeyAutoscanConfig' });
is_sdk_ok($a, 200, 'ShowHotkeyAutoscanConfig, never set');
is_deeply($a->{body}, { instance_id => $I, enable_auto_scan => JSON::PP::false, schedule_at => [] },
          '... enable_auto_scan false, schedule_at [], no updated_at');

my $t0 = int(time * 1000);
($a, my $b) = sdk({ op => 'UpdateHotkeyAutoScanConfig',
                    body => { enable_auto_scan => JSON::PP::true, schedule_at => ['21:00', '03:30'] } },
                  { op => 'ShowHotkeyAutoscanConfig' });
is_sdk_ok($a, 200, 'UpdateHotkeyAutoScanConfig');
is($a->{body}{instance_id}, $I, '... instance_id');
ok($a->{body}{enable_auto_scan} && JSON::PP::is_bool($a->{body}{enable_auto_scan}), '... enable_auto_scan true');
is_deeply($a->{body}{schedule_at}, ['03:30', '21:00'], '... schedule_at sorted');
like($a->{body}{updated_at} // '', $ISO, '... updated_at');
cmp_ok(iso_to_ms($a->{body}{updated_at} // '') // 0, '>=', $t0 - 1000, '... now');
is_sdk_ok($b, 200, 'ShowHotkeyAutoscanConfig after it');
is_deeply($b->{body}, $a->{body}, '... the same settings');

my @bad_bodies = (
    [ {}, 'DCS.4063', 'Invalid enable_auto_scan parameter in the request.', 'an empty object' ],
    [ { schedule_at => ['01:00'] }, 'DCS.4063', 'Invalid enable_auto_scan parameter in the request.', 'no enable_auto_scan' ],
    [ { enable_auto_scan => 'yes', schedule_at => [] }, 'DCS.4063', 'Invalid enable_auto_scan parameter in the request.', 'enable_auto_scan a string' ],
    [ { enable_auto_scan => JSON::PP::true }, 'DCS.4063', 'Invalid schedule_at parameter in the request.', 'no schedule_at' ],
    [ { enable_auto_scan => JSON::PP::true, schedule_at => [] }, 'DCS.4063', 'Invalid schedule_at parameter in the request.', 'enabled with no times' ],
    [ { enable_auto_scan => JSON::PP::true, schedule_at => ['24:00'] }, 'DCS.4063', 'Invalid schedule_at parameter in the request.', '24:00' ],
    [ { enable_auto_scan => JSON::PP::true, schedule_at => ['1:00'] }, 'DCS.4063', 'Invalid schedule_at parameter in the request.', '1:00' ],
    [ { enable_auto_scan => JSON::PP::true, schedule_at => ['01:00', '01:00'] }, 'DCS.4063', 'Invalid schedule_at parameter in the request.', 'a time twice' ],
    [ { enable_auto_scan => JSON::PP::true, schedule_at => [ map { sprintf '%02d:00', $_ } 0 .. 23, ] }, undef, undef, '24 times (allowed)' ],
    [ { enable_auto_scan => JSON::PP::true, schedule_at => [ (map { sprintf '%02d:00', $_ } 0 .. 23), '12:30' ] }, 'DCS.4063', 'Invalid schedule_at parameter in the request.', '25 times' ],
    [ { enable_auto_scan => JSON::PP::false, schedule_at => '01:00' }, 'DCS.4063', 'Invalid schedule_at parameter in the request.', 'schedule_at a string' ],
);
my @res = sdk(map { { op => 'UpdateHotkeyAutoScanConfig', body => $_->[0] } } @bad_bodies);
for my $i (0 .. $#bad_bodies) {
    my ($body, $code, $msg, $name) = @{ $bad_bodies[$i] };
    if ($code) { is_sdk_error($res[$i], 400, $code, $msg, "UpdateHotkeyAutoScanConfig, $name") }
    else       { is_sdk_ok($res[$i], 200, "UpdateHotkeyAutoScanConfig, $name") }
}
my $NOTJSON = 'The message body contains invalid characters or is not in JSON format.';
# bodies the generated client cannot build, given to HcClient as data (a
# string that is not JSON goes out as a JSON string, signed as sent)
my @raw = ([ 'not json', 'DCS.4005', $NOTJSON, 'a JSON string' ],
           [ [1, 2], 'DCS.4005', $NOTJSON, 'an array' ],
           [ { enable_auto_scan => JSON::PP::false, schedule_at => [], pad => 'x' x 9000 },
             'DCS.4005', $NOTJSON, 'over 8 KiB' ],
           [ undef, 'DCS.4004', 'Empty request body.', 'no body' ]);
@res = sdk(map { { op => 'UpdateHotkeyAutoScanConfig', body => {}, data => $_->[0] } } @raw);
for my $i (0 .. $#raw) {
    is_sdk_error($res[$i], 400, $raw[$i][1], $raw[$i][2], "UpdateHotkeyAutoScanConfig, $raw[$i][3]");
}
($a) = sdk({ op => 'UpdateHotkeyAutoScanConfig', body => { enable_auto_scan => JSON::PP::false,
             schedule_at => ['04:00'], unknown_field => 1 } });
is_sdk_ok($a, 200, 'UpdateHotkeyAutoScanConfig with an unknown field (ignored)');
is_deeply($a->{body}{schedule_at}, ['04:00'], '... stored');

# ------------------------------------------------------------ tasks
($a, $b) = sdk({ op => 'CreateHotkeyScanTask' }, { op => 'CreateHotkeyScanTask' });
is_sdk_ok($a, 200, 'CreateHotkeyScanTask');
my $task = $a->{body} || {};
like($task->{id} // '', $UUID, '... id');
is($task->{instance_id}, $I, '... instance_id');
is($task->{status}, 'waiting', '... status waiting');
is($task->{scan_type}, 'manual', '... scan_type manual');
like($task->{created_at} // '', $ISO, '... created_at');
is($task->{num}, 0, '... num 0');
ok(!exists $task->{$_}, "... no $_") for qw(started_at finished_at keys);
is_sdk_error($b, 400, 'DCS.4026',
             'This operation is not allowed when the DCS instance is in the current state.',
             'CreateHotkeyScanTask while one waits');
my $tid = $task->{id} // uuid();

($a, $b, my $c) = sdk({ op => 'ShowHotkeyTaskDetails', hotkey_id => $tid },
                      { op => 'ListHotKeyScanTasks', limit => 10, offset => 0, status => 'waiting' },
                      { op => 'DeleteHotkeyScanTask', hotkey_id => $tid });
is_sdk_ok($a, 200, 'ShowHotkeyTaskDetails of the waiting task');
is_deeply($a->{body}, { %$task }, '... the record as created');
is_sdk_ok($b, 200, 'ListHotKeyScanTasks');
is($b->{body}{count}, 1, '... count');
is_deeply($b->{body}{records}, [ { map { $_ => $task->{$_} } qw(id status scan_type created_at) } ],
          '... the new task');
is_sdk_error($c, 400, 'DCS.4957', 'This operation is not allowed when the task is in the current state.',
             'DeleteHotkeyScanTask while waiting');

# an analyzer takes it: running, then delete is refused
my $created = iso_to_ms($task->{created_at} // '') // $t0;
put_task($I, $tid, 'running', $created, $created + 100);
($a, $b) = sdk({ op => 'DeleteHotkeyScanTask', hotkey_id => $tid },
               { op => 'CreateHotkeyScanTask' });
is_sdk_error($a, 400, 'DCS.4957', 'This operation is not allowed when the task is in the current state.',
             'DeleteHotkeyScanTask while running');
is_sdk_error($b, 400, 'DCS.4026', undef, 'CreateHotkeyScanTask while one runs');

# it finishes with two hot keys
my $shard = '127.0.0.1:' . $t->redis_port;
$t->redis('RPUSH', "hotkey:{$I}:task:$tid:keys", "9|0|string|3000|byte|$shard|dcs-hotkey-test",
          "4|1|hash|12|count|$shard|user:{1}|x");
$t->redis('HSET', "hotkey:{$I}:task:$tid", num => 2);
put_task($I, $tid, 'success', $created, $created + 100, $created + 2100);
($a) = sdk({ op => 'ShowHotkeyTaskDetails', hotkey_id => $tid });
is_sdk_ok($a, 200, 'ShowHotkeyTaskDetails of the finished task');
is_deeply($a->{body}, { %$task, status => 'success', num => 2,
                        started_at => ms_to_iso($created + 100), finished_at => ms_to_iso($created + 2100),
                        keys => [ { name => 'dcs-hotkey-test', type => 'string', shard => $shard, db => 0,
                                    size => 3000, unit => 'byte', freq => 9 },
                                  { name => 'user:{1}|x', type => 'hash', shard => $shard, db => 1,
                                    size => 12, unit => 'count', freq => 4 } ] },
          '... its keys, parsed by the SDK into HotkeysBody fields');

($a, $b, $c, my $d) = sdk({ op => 'DeleteHotkeyScanTask', hotkey_id => $tid },
                          { op => 'ShowHotkeyTaskDetails', hotkey_id => $tid },
                          { op => 'DeleteHotkeyScanTask', hotkey_id => $tid },
                          { op => 'ListHotKeyScanTasks' });
is_sdk_ok($a, 204, 'DeleteHotkeyScanTask of the finished task');
is_deeply($a->{body}, {}, '... no body');
is_sdk_error($b, 400, 'DCS.4941', 'The hotkey id does not exist.', 'ShowHotkeyTaskDetails after delete');
is_sdk_error($c, 400, 'DCS.4941', 'The hotkey id does not exist.', 'DeleteHotkeyScanTask again');
is_sdk_ok($d, 200, 'ListHotKeyScanTasks after delete');
is($d->{body}{count}, 0, '... empty');
is($t->redis('EXISTS', "hotkey:{$I}:task:$tid:keys"), 0, 'the keys list went with the record');

# ------------------------------------------------------------ the race
my @r = @{ (sdk([ { op => 'CreateHotkeyScanTask' }, { op => 'CreateHotkeyScanTask' } ]))[0] };
my @won = grep { $_->{ok} && $_->{status} == 200 } @r;
my @lost = grep { !$_->{ok} && ($_->{error_code} // '') eq 'DCS.4026' && $_->{status} == 400 } @r;
is(scalar @won, 1, 'two creates at once: one 200') or diag json_encode(\@r);
is(scalar @lost, 1, '... and one 400 DCS.4026');
($a) = sdk({ op => 'ListHotKeyScanTasks', status => 'waiting' });
is($a->{body}{count}, 1, '... one waiting task in the store');
is($t->redis('LLEN', "hotkey:{$I}:queue"), 1, '... one job queued');

# ------------------------------------------------------------ analysability
@res = sdk({ op => 'CreateHotkeyScanTask', instance_id => $ILRU },
           { op => 'UpdateHotkeyAutoScanConfig', instance_id => $ILRU,
             body => { enable_auto_scan => JSON::PP::true, schedule_at => ['01:00'] } },
           { op => 'ShowHotkeyAutoscanConfig', instance_id => $ILRU });
is_sdk_error($res[0], 400, 'DCS.4922', 'Does not support hotkey analyze.', 'CreateHotkeyScanTask, allkeys-lru');
is_sdk_error($res[1], 400, 'DCS.4922', 'Does not support hotkey analyze.', 'UpdateHotkeyAutoScanConfig, allkeys-lru');
is_sdk_ok($res[2], 200, 'ShowHotkeyAutoscanConfig, allkeys-lru (answers)');

# ------------------------------------------------------------ every op, every error
my @cases = (
    [ 'bad instance id', { instance_id => 'NOT-A-UUID' }, 400, 'DCS.4061', 'Invalid instance ID format.' ],
    [ 'bad project id', { project_id => 'xyz' }, 400, 'DCS.4002', 'Invalid project ID format.' ],
    [ 'unknown instance', { instance_id => $IMISSING }, 404, 'DCS.3022', 'This DCS instance does not exist.' ],
    [ "another project's instance", { instance_id => $IOTHER }, 404, 'DCS.3022', 'This DCS instance does not exist.' ],
    [ 'wrong SK', { sk => 'wrong' }, 401, 'APIGW.0301',
      'Incorrect IAM authentication information: verify aksk signature fail' ],
);
for my $case (@cases) {
    my ($name, $over, $st, $code, $msg) = @$case;
    my @ops = each_op(%$over);
    @res = sdk(@ops);
    is_sdk_error($res[$_], $st, $code, $msg, "$ops[$_]{op}, $name") for 0 .. $#ops;
}
my @task_ops = grep { $OPS{$_}{task} } sort keys %OPS;
@res = sdk(map({ { op => $_, hotkey_id => 'NOT-A-UUID' } } @task_ops),
           map({ { op => $_, hotkey_id => uuid() } } @task_ops));
is_sdk_error($res[$_], 400, 'DCS.4070', 'Invalid task ID format.', "$task_ops[$_], bad hotkey id")
    for 0 .. $#task_ops;
is_sdk_error($res[@task_ops + $_], 400, 'DCS.4941', 'The hotkey id does not exist.',
             "$task_ops[$_], unknown task") for 0 .. $#task_ops;

my %action = (CreateHotkeyScanTask => 'dcs:instance:analyze', DeleteHotkeyScanTask => 'dcs:instance:analyze',
              ShowHotkeyAutoscanConfig => 'dcs:instance:getHotKeyAutoScanConfig',
              UpdateHotkeyAutoScanConfig => 'dcs:instance:updateHotKeyAutoScanConfig');
my @denied = grep { $action{ $_->{op} } } each_op(ak => $AKL, sk => $SKL);
@res = sdk(@denied, { op => 'ShowHotkeyTaskDetails', ak => $AKL, sk => $SKL, hotkey_id => uuid() });
is_sdk_error($res[$_], 403, 'DCS.2007', "Policy does not allow $action{ $denied[$_]{op} } to be performed.",
             "$denied[$_]{op}, a caller who may only list") for 0 .. $#denied;
is_sdk_error($res[-1], 400, 'DCS.4941', undef, 'ShowHotkeyTaskDetails, a caller who may only list (allowed)');

# a caller allowed 1 request a minute: the first passes, every route then 429
my @rated = each_op(ak => $AKR, sk => $SKR);
@res = sdk({ op => 'ListHotKeyScanTasks', ak => $AKR, sk => $SKR }, @rated);
is_sdk_ok(shift @res, 200, 'ListHotKeyScanTasks, the first call of a caller allowed 1 a minute');
is_sdk_error($res[$_], 429, 'APIGW.0308', 'The throttling threshold has been reached.',
             "$rated[$_]{op}, the next call") for 0 .. $#rated;

@res = sdk({ op => 'CreateHotkeyScanTask', method => 'PATCH' },
           { op => 'ShowHotkeyTaskDetails', hotkey_id => uuid(), method => 'POST' },
           { op => 'ShowHotkeyAutoscanConfig', method => 'DELETE' });
my @wrong = ('PATCH hotkey-task', 'POST hotkey-task/{id}', 'DELETE hotkey/autoscan');
is_sdk_error($res[$_], 405, 'DCS.5001', 'This request method is not allowed.',
             "$wrong[$_] through HcClient") for 0 .. 2;

# ------------------------------------------------------------ the store down
$t->stop_redis;
@res = sdk(each_op());
my @ops = each_op();
is_sdk_error($res[$_], 500, 'DCS.5000', 'Internal service error.', "$ops[$_]{op}, the store down")
    for 0 .. $#ops;
$t->allow_log(qr/./);

$t->done;
