#!/usr/bin/perl
# `make run` / `make stop` end to end: scripts/run.sh with free ports and a
# temp RUN_DIR (a developer's run/ is not touched):
#   - it starts redis-server and nginx, loads the demo data, writes
#     demo.env, prints requests that work when pasted;
#   - authentication is on: it makes the demo ES256 key pair and AK/SK
#     once (mode 0600), mints a demo token (>= 12 h, sub "demo"), puts
#     HOTKEY_TOKEN, HOTKEY_AK, HOTKEY_SK, HOTKEY_TOKEN_KEY, HOTKEY_TOKEN_ALG,
#     HOTKEY_TOKEN_KID in demo.env; the printed token curl line and the
#     printed `hotkeyctl sign ... --curl` line give 200; no token gives
#     401 DCS.1003; a re-run keeps keys, credentials and a token with
#     >= 12 h left, and mints a new one when less is left;
#   - /metrics and the cache purge answer; the access log is JSON lines
#     naming the principal; a cached answer outlives a dead store (stale);
#   - the demo instance lists its tasks (26, newest first, the tie broken
#     by id), the allkeys-lru one gives 400 DCS.4922;
#   - running it again while all runs is a no-op (same pids);
#   - after redis-server is killed (-9), it comes back with the data,
#     including a change made after the demo load; nginx is left alone;
#   - scripts/stop.sh stops both, and is happy to run again.
#
# Core Perl modules only; no Hotkey::Test object (only its free_port,
# build_file, module_path and private_copy). HOTKEY_MODULE / HOTKEY_BUILD
# as for t/lib/Hotkey/Test.pm (hotkeyctl is taken from the same build folder).
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Hotkey::Test qw(free_port build_file module_path private_copy);
use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(sleep);
use MIME::Base64 qw(decode_base64);

my $top = abs_path("$FindBin::Bin/..");
my $module = module_path();
my $ctl = build_file('hotkeyctl');

plan skip_all => "module not built ($module): run make build" unless -f $module;
plan skip_all => "hotkeyctl not built ($ctl): run make cli" unless -x $ctl;
plan skip_all => "hotkey-analyzer not built: run make analyzer"
    unless -x build_file('hotkey-analyzer');
for my $bin (qw(redis-server redis-cli curl openssl)) {
    plan skip_all => "$bin not installed"
        unless grep { -x "$_/$bin" } split /:/, $ENV{PATH};
}

# a private copy: others may rebuild build/ while this test runs
($module, $ctl) = private_copy($module, $ctl);

sub slurp { my ($f) = @_; open my $fh, '<', $f or return undef; local $/; <$fh> }

sub pid_of {
    my ($file) = @_;
    my $s = slurp($file) // return undef;
    return $s =~ /(\d+)/ ? $1 : undef;
}

# alive(pid): exists and is not a zombie
sub alive {
    my ($pid) = @_;
    return 0 unless $pid && kill 0, $pid;
    my $st = slurp("/proc/$pid/status") // return 1;
    return $st !~ /^State:\s*[ZX]/m;
}

my $run_dir = tempdir('hotkey-quickstart-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $port = free_port();
my $redis_port = free_port();
my $demo_port = free_port();
my $analyzer_port = free_port();
my $analyzer = build_file('hotkey-analyzer');
($analyzer) = private_copy($analyzer) if -x $analyzer;
my %env = (RUN_DIR => $run_dir, PORT => $port, REDIS_PORT => $redis_port,
           MODULE => $module, HOTKEYCTL => $ctl, DEMO_PORT => $demo_port,
           ANALYZER_PORT => $analyzer_port, ANALYZER => $analyzer);

sub script {
    my ($name) = @_;
    local @ENV{keys %env} = values %env;
    my $out = `'$top/scripts/$name' 2>&1`;
    return ($? >> 8, $out);
}

my $stopped = 0;
END { script('stop.sh') unless $stopped }

my $http = HTTP::Tiny->new(timeout => 5);
my $token;     # the demo token, once demo.env is read
sub get_json {
    my ($url, %h) = @_;
    $h{'X-Auth-Token'} = $token if $token && !exists $h{'X-Auth-Token'};
    delete $h{'X-Auth-Token'} unless defined $h{'X-Auth-Token'};
    my $r = $http->get($url, { headers => \%h });
    my $j = eval { decode_json($r->{content}) };
    return ($r, $j);
}

# sh_run(command line): runs it with sh in $run_dir, returns (rc, output)
sub sh_run {
    my ($line) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        chdir $run_dir;
        exec 'sh', '-c', $line;
        exit 127;
    }
    local $/;
    my $out = <$fh>;
    close $fh;
    return ($? >> 8, $out // '');
}

# http_status(curl -i output): the last status line's code, headers, body
sub http_answer {
    my ($out) = @_;
    $out =~ s/\r//g;
    my ($status, $head, $body);
    while ($out =~ s{\AHTTP/[\d.]+ (\d{3})[^\n]*\n(.*?)\n\n}{}s) {
        ($status, $head) = ($1, $2);
    }
    my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () } split /\n/, $head // '';
    return ($status, \%h, $out);
}

sub b64url_json {
    my ($s) = @_;
    $s =~ tr{-_}{+/};
    $s .= '=' x ((4 - length($s) % 4) % 4);
    return eval { decode_json(decode_base64($s)) };
}

sub mode_of { my @st = stat $_[0]; return @st ? $st[2] & 07777 : -1 }

sub read_env {
    my %d;
    for (split /\n/, slurp("$run_dir/demo.env") // '') {
        next unless /^([A-Z_]+)=(.*)$/;
        my ($k, $v) = ($1, $2);
        $v =~ s/^'(.*)'$/$1/;
        $d{$k} = $v;
    }
    return %d;
}

# ------------------------------------------------------------------ start

my ($rc, $out) = script('run.sh');
is($rc, 0, 'run.sh succeeds') or diag($out);
like($out, qr{http://127\.0\.0\.1:$port/}, 'it prints the URL');

my %demo = read_env();
my $uuid = qr/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
is($demo{BASE_URL}, "http://127.0.0.1:$port", 'demo.env: BASE_URL');
is($demo{PORT}, $port, 'demo.env: PORT');
is($demo{REDIS_PORT}, $redis_port, 'demo.env: REDIS_PORT');
is($demo{DEMO_TARGET}, "127.0.0.1:$demo_port", 'demo.env: DEMO_TARGET');
is($demo{ANALYZER_METRICS_URL}, "http://127.0.0.1:$analyzer_port/metrics", 'demo.env: ANALYZER_METRICS_URL');
like($demo{$_} // '', $uuid, "demo.env: $_") for qw(PROJECT_ID INSTANCE_ID INSTANCE_ID_NO_LFU);
isnt($demo{INSTANCE_ID}, $demo{INSTANCE_ID_NO_LFU}, 'demo.env: two instances');

my $ncmd = `sh -c '. "$run_dir/demo.env" && echo "\$INSTANCE_ID"'`;
chomp $ncmd;
is($ncmd, $demo{INSTANCE_ID}, 'demo.env can be sourced by sh');

# ----------------------------------------------- the demo credentials

for my $v (qw(HOTKEY_TOKEN HOTKEY_AK HOTKEY_SK HOTKEY_TOKEN_KEY
              HOTKEY_TOKEN_ALG HOTKEY_TOKEN_KID)) {
    ok(exists $demo{$v}, "demo.env: $v");
}
like($demo{HOTKEY_TOKEN} // '', qr/^[\w-]+\.[\w-]+\.[\w-]+$/, 'demo.env: HOTKEY_TOKEN is a JWS');
like($demo{HOTKEY_AK} // '', qr/^[A-Za-z0-9._-]{8,128}$/, 'demo.env: HOTKEY_AK');
like($demo{HOTKEY_SK} // '', qr/^[!-~]{16,256}$/, 'demo.env: HOTKEY_SK');
is($demo{HOTKEY_TOKEN_ALG}, 'ES256', 'demo.env: HOTKEY_TOKEN_ALG=ES256');
is($demo{HOTKEY_TOKEN_KID}, '', 'demo.env: HOTKEY_TOKEN_KID empty (one key, no kid needed)');
my $tkey = $demo{HOTKEY_TOKEN_KEY} // '';
like($tkey, qr{^/}, 'demo.env: HOTKEY_TOKEN_KEY is absolute');
like(slurp($tkey) // '', qr/-----BEGIN PRIVATE KEY-----/, '... a PEM private key');
like(`openssl pkey -in '$tkey' -noout -text 2>&1`, qr/P-256|prime256v1/, '... on P-256');
my $sh_tok = `sh -c '. "$run_dir/demo.env" && printf %s "\$HOTKEY_TOKEN_KEY"'`;
is($sh_tok, $tkey, 'demo.env: HOTKEY_TOKEN_KEY survives sh');

my $gw = "$run_dir/auth/gateway";
my @secret_files = ($tkey, "$gw/credentials", "$gw/token-keys.pem",
                    "$run_dir/demo.env", glob("$run_dir/auth/client/*"));
for my $f (@secret_files) {
    is(sprintf('%o', mode_of($f)), '600', "mode 0600: $f");
}
is(sprintf('%o', mode_of("$run_dir/auth")), '700', 'mode 0700: auth/');
like(slurp("$gw/token-keys.pem") // '', qr/-----BEGIN PUBLIC KEY-----/, 'gateway key file: a public key');
unlike(slurp("$gw/token-keys.pem") // '', qr/PRIVATE/, '... and no private key');
my ($cred) = grep { !/^\s*(#|$)/ } split /\n/, slurp("$gw/credentials") // '';
like($cred // '', qr/^\Q$demo{HOTKEY_AK} $demo{HOTKEY_SK}\E\s/, 'credentials: the demo AK/SK');
like($cred // '', qr/\sprojects=\Q$demo{PROJECT_ID}\E(\s|$)/, '... on the demo project only');
my $ALL = 'dcs:instance:listHotKey,dcs:instance:analyze,dcs:instance:getHotKeyAutoScanConfig,'
        . 'dcs:instance:updateHotKeyAutoScanConfig';
like($cred // '', qr/\sactions=\Q$ALL\E(\s|$)/, '... allowed every action of the API');

$token = $demo{HOTKEY_TOKEN};
my ($th, $tp) = map { b64url_json($_) } (split /\./, $token // '')[0, 1];
is($th && $th->{alg}, 'ES256', 'token: alg ES256');
ok($th && !exists $th->{kid}, 'token: no kid');
is($tp && $tp->{project_id}, $demo{PROJECT_ID}, 'token: the demo project');
is($tp && $tp->{sub}, 'demo', 'token: sub demo');
is(join(',', @{ ($tp && $tp->{actions}) || [] }), $ALL, 'token: every action of the API');
cmp_ok(($tp && $tp->{exp} || 0) - time, '>=', 12 * 3600, 'token: valid for 12 h or more');

my $redis_pid = pid_of("$run_dir/redis/redis.pid");
my $nginx_pid = pid_of("$run_dir/nginx/logs/nginx.pid");
ok(alive($redis_pid), 'redis-server runs');
ok(alive($nginx_pid), 'nginx runs');

# ------------------------------------------------- the printed requests

my $api = "$demo{BASE_URL}/v2/$demo{PROJECT_ID}/instances";

# the first printed request: the token itself in the line, pasted as is
my ($first) = $out =~ m{^\s*(curl -s -H 'X-Auth-Token: [^']+' '[^']+')\s*$}m;
ok($first, 'it prints a curl line with the token') or diag($out);
like($first // '', qr{\Q$demo{HOTKEY_TOKEN}\E}, '... the demo token');
like($first // '', qr{'\Q$api/$demo{INSTANCE_ID}\E/hotkey-tasks}, '... listing the demo instance');
my ($crc, $cout) = sh_run($first // 'false');
is($crc, 0, 'the printed token line runs') or diag($cout);
my $j = eval { decode_json($cout) };
is($j && $j->{instance_id}, $demo{INSTANCE_ID}, '... and lists the demo instance (200)') or diag($cout);
ok($j && ref $j->{records} eq 'ARRAY' && @{ $j->{records} } > 0, '... with tasks');

# the AK/SK example: hotkeyctl sign ... --curl
my ($signed) = $out =~ m{^\s*(\S*hotkeyctl'? sign .*--curl.*?)\s*$}m;
ok($signed, 'it prints a hotkeyctl sign --curl line') or diag($out);
like($signed // '', qr{--ak \Q$demo{HOTKEY_AK}\E\b}, '... with the demo AK');
unlike($signed // '', qr{\Q$demo{HOTKEY_SK}\E}, '... and not the SK itself (ps would show it)');
($crc, $cout) = sh_run($signed // 'false');
my ($sst, $shd, $sbody) = http_answer($cout);
is($sst, 200, 'the printed AK/SK line: 200') or diag($cout);
my $sj = eval { decode_json($sbody) };
is($sj && $sj->{instance_id}, $demo{INSTANCE_ID}, '... the demo instance');

# the other printed requests, after `. demo.env`: each answers what its
# comment announces (200 JSON when it announces nothing)
my @more = $out =~ m{^\s*(curl [^\n]*\$[^\n]*?)\s*$}mg;
ok(@more >= 4, 'it prints more requests using demo.env') or diag($out);
for my $line (@more) {
    my ($cmd, $comment) = split /\s+#\s*/, $line, 2;
    my ($want, $code) = ($comment // '') =~ /^(\d{3})\s+([A-Z]+\.\d+)/;
    $cmd .= ' -i' unless $cmd =~ /^curl -si/;
    my ($rc2, $o) = sh_run(". ./demo.env && $cmd");
    my ($st, $hd, $body) = http_answer($o);
    my $jj = eval { decode_json($body) };
    is($st, $want // 200, "printed request: $cmd") or diag($o);
    if ($code) {
        is($jj && $jj->{error_code}, $code, "... $code");
    } else {
        ok($jj && ref $jj->{records} eq 'ARRAY', '... a list');
    }
}
# the printed hotkeyctl api lines: one per operation, each answering what
# its comment announces, after `. demo.env` and the printed k=... line
my ($kline) = $out =~ m{^\s*(k="--url [^\n]*")\s*$}m;
ok($kline, 'it prints the k=... options for hotkeyctl api') or diag($out);
my @api = $out =~ m{^\s*(\S*hotkeyctl'? api [^\n]*?)\s*$}mg;
my %ops = map { /hotkeyctl'? api (\S+)/ ? ($1 => 1) : () } @api;
is(join(' ', sort keys %ops), 'autoscan-get autoscan-set create delete list show',
   'it prints one hotkeyctl api line per operation') or diag($out);
my %made;      # tasks the printed create made
for my $line (@api) {
    my ($cmd, $comment) = split /\s+#\s*/, $line, 2;
    my ($want, $code) = ($comment // '') =~ /^(\d{3})(?:\s+([A-Z]+\.\d+))?/;
    my ($rc2, $o) = sh_run(". ./demo.env && $kline && $cmd");
    my ($st) = $o =~ m{\AHTTP/[\d.]+ (\d{3})};
    my ($body) = $o =~ m{\A[^\n]*\n(.*)\z}s;
    my $jj = eval { decode_json($body // '') };
    is($st, $want, "printed: $cmd") or diag($o);
    is($rc2, $want =~ /^2/ ? 0 : 1, '... exit status') if defined $want;
    is($jj && $jj->{error_code}, $code, "... $code") if $code;
    $made{ $jj->{id} } = 1 if $cmd =~ / api create / && $jj && $jj->{id};
}
my ($ilist) = $out =~ m{^\s*(\S*hotkeyctl'? instance list [^\n#]*)}m;
ok($ilist, 'it prints hotkeyctl instance list') or diag($out);
($crc, $cout) = sh_run($ilist // 'false');
like($cout, qr/^\Q$demo{$_}\E project_id=\Q$demo{PROJECT_ID}\E .*registered=yes/m,
     "... which shows the demo instance $_") for qw(INSTANCE_ID INSTANCE_ID_NO_LFU);

my ($mint) = $out =~ m{^\s*(\S*hotkeyctl'? token [^\n#]*)}m;
ok($mint, 'it prints how to mint a token') or diag($out);
($crc, my $own) = sh_run(". ./demo.env && $mint");
chomp $own;
my ($r, $jj) = get_json("$api/$demo{INSTANCE_ID}/hotkey-tasks?limit=1", 'X-Auth-Token' => $own);
is($r->{status}, 200, '... and that token lists the demo instance') or diag("$own\n$r->{content}");

# no token, a bad token
($r, $jj) = get_json("$api/$demo{INSTANCE_ID}/hotkey-tasks", 'X-Auth-Token' => undef);
is($r->{status}, 401, 'no token: 401');
is($jj && $jj->{error_code}, 'DCS.1003', '... DCS.1003');
($r, $jj) = get_json("$api/$demo{INSTANCE_ID}/hotkey-tasks", 'X-Auth-Token' => "$token" . 'x');
is($r->{status}, 401, 'a damaged token: 401');
is($jj && $jj->{error_code}, 'DCS.1001', '... DCS.1001');

($r, $j) = get_json("$api/$demo{INSTANCE_ID}/hotkey-tasks?limit=1000");
is($r->{status}, 200, 'the whole list: 200');
cmp_ok($j->{count}, '>=', 25, 'the demo instance has at least 25 tasks');
is($j->{count}, scalar @{ $j->{records} }, 'count matches the records');
my %status;
my ($ordered, $tie) = (1, 0);
my @recs = @{ $j->{records} };
for my $i (0 .. $#recs) {
    my $t = $recs[$i];
    $status{ $t->{status} }++;
    if ($t->{status} eq 'waiting') {
        ok(!exists $t->{started_at} && !exists $t->{finished_at}, "waiting $t->{id}: no start or finish");
    } elsif ($t->{status} eq 'running') {
        ok(exists $t->{started_at} && !exists $t->{finished_at}, "running $t->{id}: started, not finished");
    } else {
        ok(exists $t->{started_at} && exists $t->{finished_at}, "$t->{status} $t->{id}: started and finished");
    }
    next unless $i;
    my $p = $recs[$i - 1];
    $ordered = 0 if $p->{created_at} lt $t->{created_at}
                 || ($p->{created_at} eq $t->{created_at} && $p->{id} lt $t->{id});
    $tie++ if $p->{created_at} eq $t->{created_at};
}
ok($ordered, 'newest first, ties by id descending');
ok($tie, 'two tasks share a created_at');
ok($status{$_}, "some tasks are $_") for qw(success failed);
my @open = grep { ($_->{status} eq 'waiting' || $_->{status} eq 'running')
                  && !$made{ $_->{id} } } @recs;
ok(!@open, 'none of the demo data is waiting or running: a create on the '
           . 'demo instance works');
# the busy demo instance: an analysis under way
my ($br, $bj) = get_json("$api/$demo{INSTANCE_ID_BUSY}/hotkey-tasks");
is($br->{status}, 200, 'the busy demo instance: 200');
my @brecs = @{ $bj->{records} || [] };
is(join(',', sort map { $_->{status} } @brecs), 'running,waiting',
   '... a waiting and a running task');
for my $t (@brecs) {
    if ($t->{status} eq 'waiting') {
        ok(!exists $t->{started_at} && !exists $t->{finished_at}, "waiting $t->{id}: no start or finish");
    } else {
        ok(exists $t->{started_at} && !exists $t->{finished_at}, "running $t->{id}: started, not finished");
    }
}
my %scan = map { $_->{scan_type} => 1 } @recs;
ok($scan{manual} && $scan{auto}, 'manual and auto tasks');

($r, $j) = get_json("$api/$demo{INSTANCE_ID_NO_LFU}/hotkey-tasks");
is($r->{status}, 400, 'the allkeys-lru instance: 400');
is($j->{error_code}, 'DCS.4922', '... DCS.4922');

($r, $j) = get_json("$demo{BASE_URL}/healthz");
is($r->{status}, 200, '/healthz: 200');

$r = $http->get("$demo{BASE_URL}/metrics");
is($r->{status}, 200, '/metrics: 200 from 127.0.0.1');
like($r->{content}, qr/^hotkey_requests_total\{status="200",error_code=""\} [1-9]/m,
     '... counts the 200s');
like($r->{content}, qr/^hotkey_requests_total\{status="401",error_code="DCS.1003"\} [1-9]/m,
     '... and the 401s');

# ------------------------------------------ the analyzer and the demo target

my $ar = $http->get($demo{ANALYZER_METRICS_URL});
is($ar->{status}, 200, 'the analyzer serves its metrics');
like($ar->{content}, qr/^hotkey_analyzer_tasks_total\{result="success"\} \d+$/m, '... tasks by result');
my $addr = `redis-cli -p $redis_port HGET 'hotkey:{$demo{INSTANCE_ID}}:instance' addr`;
$addr =~ s/\s+//g;
is($addr, $demo{DEMO_TARGET}, 'the demo instance is the demo target');
# an analysis of the demo target, on an instance of its own (the API's
# create on the demo instance itself is checked further down)
my $aiid = '0b1e4a52-7f0e-4d7c-9d6a-3f1c2b4a5e6f';
system("redis-cli -p $redis_port HSET 'hotkey:{$aiid}:instance' project_id $demo{PROJECT_ID} "
       . "eviction_policy allkeys-lfu addr $demo{DEMO_TARGET} mode standalone >/dev/null");
system("redis-cli -p $redis_port SADD hotkey:registry $aiid >/dev/null");
my $atid = `'$analyzer' --store 127.0.0.1:$redis_port --create-task $aiid`;
chomp $atid;
like($atid, qr/^[0-9a-f-]{36}$/, 'a task on the demo target');
my $ast = '';
for (1 .. 200) {
    $ast = `redis-cli -p $redis_port HGET 'hotkey:{$aiid}:task:$atid' status`;
    $ast =~ s/\s+//g;
    last if $ast eq 'success' || $ast eq 'failed';
    sleep 0.1;
}
is($ast, 'success', '... analysed by the running analyzer');
my @hot = split /\n/, `'$top/scripts/demo-target.sh' --hot`;
my @found = map { (split /\|/, $_, 7)[6] }
    split /\n/, `redis-cli -p $redis_port LRANGE 'hotkey:{$aiid}:task:$atid:keys' 0 5`;
is_deeply(\@found, \@hot, '... it finds the known hot keys of the demo, hottest first');

# ------------------------------------------------------ again: a no-op

($rc, my $out2) = script('run.sh');
is($rc, 0, 'run.sh again succeeds') or diag($out2);
like($out2, qr/redis-server: already running/, '... redis-server already running');
like($out2, qr/nginx: already running/, '... nginx already running');
like($out2, qr/analyzer: already running/, '... analyzer already running');
like($out2, qr/demo target: already running/, '... demo target already running');
like($out2, qr/demo data: already in the store/, '... demo data not reloaded');
is(pid_of("$run_dir/redis/redis.pid"), $redis_pid, '... same redis-server');
is(pid_of("$run_dir/nginx/logs/nginx.pid"), $nginx_pid, '... same nginx');
like($out2, qr/auth: demo token kept/, '... the token, with >= 12 h left, kept');
my %demo2 = read_env();
is($demo2{$_}, $demo{$_}, "... same $_") for qw(HOTKEY_TOKEN HOTKEY_AK HOTKEY_SK HOTKEY_TOKEN_KEY);

# a token with under 12 h left is minted again; keys and AK/SK stay
my $short = `'$ctl' token --key '$tkey' --alg ES256 --project $demo{PROJECT_ID} --sub demo --ttl 3600`;
chomp $short;
open my $tf, '>', "$run_dir/auth/client/demo-token" or die $!;
print $tf "$short\n";
close $tf;
my $pem_before = slurp($tkey);
($rc, my $out2b) = script('run.sh');
is($rc, 0, 'run.sh with a token of 1 h left succeeds') or diag($out2b);
like($out2b, qr/auth: new demo token/, '... mints a new token');
my %demo3 = read_env();
isnt($demo3{HOTKEY_TOKEN}, $short, '... not the short one');
my $tp3 = b64url_json((split /\./, $demo3{HOTKEY_TOKEN} // '')[1]);
cmp_ok(($tp3 && $tp3->{exp} || 0) - time, '>=', 12 * 3600, '... valid for 12 h or more');
is($demo3{$_}, $demo{$_}, "... same $_") for qw(HOTKEY_AK HOTKEY_SK HOTKEY_TOKEN_KEY);
is(slurp($tkey), $pem_before, '... same key');
like($out2b, qr{\Q$demo3{HOTKEY_TOKEN}\E}, '... and prints the new one');
$token = $demo3{HOTKEY_TOKEN};
($r, $j) = get_json("$api/$demo{INSTANCE_ID}/hotkey-tasks?limit=1");
is($r->{status}, 200, '... which the running nginx accepts');

# a change after the demo load: the busy instance's waiting task starts
my $iid = $demo{INSTANCE_ID_BUSY};
my ($newest) = grep { $_->{status} eq 'waiting' } @brecs;
@recs = @brecs;
($r, $j) = get_json("$api/$iid/hotkey-tasks?limit=1000");
is($r->{status}, 200, 'the busy instance\'s list (cached now)');
my $p = "hotkey:{$iid}";
my $created = `redis-cli -p $redis_port HGET '$p:task:$newest->{id}' created_at`;
chomp $created;
my $set = `redis-cli -p $redis_port --eval '$top/scripts/put-task.lua' '$p:task:$newest->{id}' '$p:tasks' '$p:tasks:waiting' '$p:tasks:running' '$p:tasks:success' '$p:tasks:failed' , '$newest->{id}' running manual '$created' @{[ $created + 4321 ]} 2>&1`;
chomp $set;
is($set, 'waiting', 'put-task.lua moves the waiting task to running');

# ------------------------------------------ redis-server killed, brought back

kill 'KILL', $redis_pid;
for (1 .. 50) { last unless alive($redis_pid); sleep 0.1 }
ok(!alive($redis_pid), 'redis-server killed');

# the list fetched above is in the cache: fresh (5 s) or past it, within
# the 60 s of hotkey_cache_stale_if_error
($r, $j) = get_json("$api/$iid/hotkey-tasks?limit=1000");
is($r->{status}, 200, 'store dead: the cached list still answers 200') or diag($r->{content});
like($r->{headers}{'x-cache-status'} // '', qr/^(HIT|STALE)$/, '... from the cache (HIT or STALE)');
($r, $j) = get_json("$api/$iid/hotkey-tasks?limit=999");
is($r->{status}, 500, 'store dead: an uncached page is 500') or diag($r->{content});

($rc, my $out3) = script('run.sh');
is($rc, 0, 'run.sh after the kill succeeds') or diag($out3);
like($out3, qr/redis-server: started/, '... starts redis-server');
like($out3, qr/nginx: already running/, '... leaves nginx alone');
like($out3, qr/demo data: already in the store/, '... keeps the data');
my $redis_pid2 = pid_of("$run_dir/redis/redis.pid");
ok(alive($redis_pid2) && $redis_pid2 != $redis_pid, 'a new redis-server runs');
is(pid_of("$run_dir/nginx/logs/nginx.pid"), $nginx_pid, 'the same nginx runs');

# the cached copy may predate the change: the node dropped its cached
# answers when it followed the new store's writes again; a purge is the
# operator's way to do it by hand
$r = $http->post("$demo{BASE_URL}/cache/purge?instance_id=$iid");
is($r->{status}, 200, 'cache purge from 127.0.0.1: 200') or diag($r->{content});
$j = eval { decode_json($r->{content}) };
cmp_ok($j && $j->{purged} // -1, '>=', 0, '... answers how many pages it purged');

($r, $j) = get_json("$api/$iid/hotkey-tasks?limit=1000");
is($r->{status}, 200, 'the list after the restart: 200') or diag($r->{content});
is($r->{headers}{'x-cache-status'}, 'MISS', '... from the store');
is($j->{count}, scalar @recs, '... all tasks are still there');
my ($again) = grep { $_->{id} eq $newest->{id} } @{ $j->{records} || [] };
is($again && $again->{status}, 'running', '... with the change made before the kill');

# the API's create on the demo instance, analysed by the running analyzer
{
    # the printed example's task may still be under way: one at a time
    my $cr;
    for (1 .. 300) {
        $cr = $http->request('POST', "$api/$demo{INSTANCE_ID}/hotkey-task",
                             { headers => { 'X-Auth-Token' => $token } });
        last unless $cr->{status} == 400 && $cr->{content} =~ /DCS\.4026/;
        sleep 0.1;
    }
    is($cr->{status}, 200, 'create on the demo instance: 200') or diag($cr->{content});
    my $cj = eval { decode_json($cr->{content}) } || {};
    is($cj->{status}, 'waiting', '... a waiting task');
    my $st = '';
    my $dj;
    for (1 .. 300) {
        my ($dr, $d) = get_json("$api/$demo{INSTANCE_ID}/hotkey-task/" . ($cj->{id} // 'x'));
        $dj = $d;
        $st = $d && $d->{status} // '';
        last if $st eq 'success' || $st eq 'failed';
        sleep 0.1;
    }
    is($st, 'success', '... the analyzer finishes it: success');
    ok($dj && ref $dj->{keys} eq 'ARRAY' && @{ $dj->{keys} } > 0, '... with hot keys')
        or diag(explain $dj);
}

# ------------------------------------------------------------------- stop

($rc, my $out4) = script('stop.sh');
is($rc, 0, 'stop.sh succeeds') or diag($out4);
$stopped = 1;
ok(!alive($redis_pid2), 'redis-server stopped');
ok(!alive($nginx_pid), 'nginx stopped');
ok(!IO::Socket::INET->new("127.0.0.1:$analyzer_port"), 'the analyzer stopped');
ok(!IO::Socket::INET->new("127.0.0.1:$demo_port"), 'the demo target stopped');
ok(!IO::Socket::INET->new("127.0.0.1:$port"), 'nothing listens on the gateway port');

($rc, my $out5) = script('stop.sh');
is($rc, 0, 'stop.sh when stopped succeeds') or diag($out5);
like($out5, qr/nginx: not running/, '... and says so');

my $log = slurp("$run_dir/nginx/logs/error.log") // '';
unlike($log, qr/\[(alert|crit|emerg)\]/, 'no [alert], [crit] or [emerg] in the error log');

# the access log: one JSON object per line, with the principal, the
# cache result, the error code and the store time; no secrets
my $alog = slurp("$run_dir/nginx/logs/access.log") // '';
my @lines = split /\n/, $alog;
my @entries = grep { $_ } map { eval { decode_json($_) } } @lines;
ok(@lines > 10, 'access log written');
is(scalar @entries, scalar @lines, '... every line is JSON');
my %principals = map { ($_->{principal} // '') => 1 } @entries;
ok($principals{demo}, '... the token requests logged with principal "demo"');
ok($principals{'demo-aksk'}, '... the AK/SK request with principal "demo-aksk"');
ok((grep { ($_->{error_code} // '') eq 'DCS.1003' && $_->{status} == 401 } @entries),
   '... a 401 with its error code');
ok((grep { ($_->{cache} // '') eq 'MISS' && ($_->{store_time} // '') =~ /^\d+\.\d{6}$/ } @entries),
   '... a cache MISS with its store time');
ok((grep { ($_->{cache} // '') =~ /^(HIT|STALE)$/ } @entries), '... a cache HIT');
unlike($alog, qr/\Q$demo{HOTKEY_SK}\E|eyJ[\w-]+\.eyJ/, '... no SK and no token in it');

done_testing();
