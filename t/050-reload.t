#!/usr/bin/perl
# nginx -s reload while serving, a reload that switches stores, a reload
# with a bad config; nginx -t on good and bad directive values.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use POSIX ();
use Hotkey::Test qw(:all);

my $t = Hotkey::Test->new;
$t->start_redis;

my $pid = hex32();
my $iid = uuid();
$t->add_instance($iid, project => $pid);
my @tasks = $t->add_tasks($iid, map { { status => 'success' } } 1 .. 12);
my $exp = expected_list($iid, \@tasks);

my $conf1 = $t->api_server;
$t->start_nginx($conf1);
is_json_ok($t->list($pid, $iid), $exp, 'before any reload: 200');

# ------------------------------------------------------------ reload under load
# A child sends requests (new connections and one keepalive connection)
# for 2.5 seconds and writes one status per line; the parent reloads three
# times meanwhile.
sub load_child {
    my ($secs, $file) = @_;
    my $child = fork // die "fork: $!";
    if ($child == 0) {
        open my $out, '>', $file or POSIX::_exit(1);
        select((select($out), $| = 1)[0]);
        my $path = $t->list_path($pid, $iid);
        my $end = time + $secs;
        while (time < $end) {
            my $r = $t->get($path);
            print $out 'new ', ($r->{status} // "none: $r->{error}"), "\n";
            my $rs = $t->raw("GET $path HTTP/1.1\r\nHost: x\r\n\r\n" x 3
                             . "GET $path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                             responses => 4);
            # an old worker that shuts down closes a keepalive connection
            # after the request in hand: the requests pipelined behind it
            # are not answered (HTTP lets the server do that; clients
            # retry), which is not a failure
            my $served = 0;
            for (@$rs) {
                if (!defined $_->{status} && $served
                    && ($_->{error} // '') eq 'closed before the headers')
                {
                    print $out "keepalive closed by the server\n";
                    last;
                }
                $served++;
                print $out 'keepalive ', ($_->{status} // "none: $_->{error}"), "\n";
            }
        }
        close $out;
        POSIX::_exit(0);
    }
    return $child;
}
{
    my $file = $t->prefix . '/load.txt';
    my $child = load_child(2.5, $file);
    sleep 0.3;
    my @w0 = $t->worker_pids;
    my $conf2 = $t->api_server(read_timeout => '2s', extra => '            hotkey_store_connect_timeout 500ms;');
    my ($rc, $replaced) = $t->reload($conf2);
    is($rc, 0, 'nginx -s reload: exit 0');
    ok($replaced, 'reload: the old workers left, new ones serve');
    my @w1 = $t->worker_pids;
    ok(!grep({ my $o = $_; grep { $_ == $o } @w1 } @w0), "worker pids changed (@w0 -> @w1)");
    sleep 0.3;
    ($rc, $replaced) = $t->reload($conf1);
    ok($rc == 0 && $replaced, 'second reload');
    sleep 0.3;
    ($rc, $replaced) = $t->reload;
    ok($rc == 0 && $replaced, 'third reload, same config');
    waitpid($child, 0);
    my @lines = split /\n/, Hotkey::Test::_slurp($file);
    my @bad = grep { !/ 200$/ && !/closed by the server/ } @lines;
    note(scalar(grep { /closed by the server/ } @lines)
         . ' keepalive connections closed by exiting workers');
    ok(@lines > 20, scalar(@lines) . ' requests during the reloads');
    is(scalar @bad, 0, 'every request during the reloads got 200')
        or diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
}
is_json_ok($t->list($pid, $iid), $exp, 'after the reloads: 200');

# ------------------------------------------------------------ reload to another store
{
    my $t2 = Hotkey::Test->new;
    $t2->start_redis;
    $t2->add_instance($iid, project => $pid);
    my @other = $t2->add_tasks($iid, map { { status => 'failed' } } 1 .. 3);
    my $extra = $t->port('extra');
    my $conf3 = $t->api_server(store_addr => '127.0.0.1:' . $t2->redis_port)
              . $t->api_server(port => $extra, upstream => 0);
    my ($rc, $replaced) = $t->reload($conf3);
    ok($rc == 0 && $replaced, 'reload to a config with another store and a new server');
    my @s = map { $t->list($pid, $iid) } 1 .. 6;
    is(scalar(grep { ($_->{json}{count} // -1) == 3 } @s), 6,
       'after the reload every worker reads the new store (no old keepalive connection reused)');
    is_json_ok($s[0], expected_list($iid, \@other), 'the new store\'s records');
    my $r = $t->request('GET', $t->list_path($pid, $iid), [], undef, port => $extra);
    is_json_ok($r, $exp, 'the server added by the reload serves the old store');
    $t2->stop_redis;
    ($rc, $replaced) = $t->reload($conf1);
    ok($rc == 0 && $replaced, 'reload back');
    is_json_ok($t->list($pid, $iid), $exp, 'back on the first store');
}

# ------------------------------------------------------------ reload with a bad config
{
    my $m = $t->log_mark;
    my @w0 = $t->worker_pids;
    my $bad = $t->api_server(extra => '            hotkey_store_read_timeout abc;');
    $t->allow_log(qr/\[emerg\].*hotkey_store_read_timeout/);
    $t->write_conf($bad);
    # nginx -s reload would parse the bad file itself and refuse to signal;
    # a SIGHUP is what a config management tool may well send
    ok(kill('HUP', $t->master_pid), 'SIGHUP sent to the master');
    my $end = time + 3;
    sleep 0.05 until $t->log_since($m) =~ /\[emerg\]/ || time > $end;
    like($t->log_since($m), qr/\[emerg\].*hotkey_store_read_timeout/,
         'the master refuses the bad config and names the directive');
    is_deeply([ $t->worker_pids ], \@w0, 'the old workers keep running');
    is_json_ok($t->list($pid, $iid), $exp, 'and keep serving');
    $t->write_conf($conf1);
}

# ------------------------------------------------------------ nginx -t
my $rp = $t->redis_port;
sub conf_with {
    my ($loc, %o) = @_;
    my $srv = $o{server} // '';
    my $http = $o{http} // '';
    my $after = $o{after} // '';
    return <<"EOF";
    $http
    upstream store_up { server 127.0.0.1:$rp; keepalive 4; }
    server {
        listen 127.0.0.1:@{[ free_port() ]};
        $srv
        location /v2/ {
            $loc
        }
    }
    $after
EOF
}

sub t_ok {
    my ($text, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out) = $t->nginx_t($text);
    ok($rc == 0 && $out =~ /test is successful/, "nginx -t accepts: $name")
        or diag("rc $rc: $out");
}

sub t_bad {
    my ($text, $re, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my ($rc, $out) = $t->nginx_t($text);
    ok($rc != 0 && $out =~ /\[emerg\]/ && $out =~ $re, "nginx -t refuses: $name")
        or diag("rc $rc: $out");
}

my $ON = 'hotkey_api on; hotkey_auth off;';
t_ok(conf_with("$ON hotkey_store store_up;"), 'an upstream block name');
t_ok(conf_with("$ON hotkey_store 127.0.0.1:$rp;"), 'an address');
t_ok(conf_with("$ON hotkey_store 127.0.0.1:1;"), 'an address where nothing listens (checked at run time)');
t_ok(conf_with("$ON hotkey_store late_up;",
               after => "upstream late_up { server 127.0.0.1:$rp; }"),
     'an upstream block defined after its use');
t_ok(conf_with("$ON hotkey_store store_up; hotkey_store_read_timeout 300ms;"
               . ' hotkey_store_connect_timeout 2s; hotkey_store_send_timeout 1500ms;'),
     'the three timeouts');
t_ok(conf_with($ON, server => 'hotkey_store store_up;'), 'hotkey_store inherited from server');
t_ok(conf_with($ON, http => 'hotkey_store 127.0.0.1:1; hotkey_store_read_timeout 1m; hotkey_auth off;'),
     'hotkey_store and a timeout inherited from http');
t_ok(conf_with('hotkey_api off;'), 'hotkey_api off without a store');
t_ok(conf_with('hotkey_auth off;'), 'no hotkey_api at all');

t_bad(conf_with('hotkey_api maybe; hotkey_auth off; hotkey_store store_up;'),
      qr/hotkey_api/, 'hotkey_api maybe (names hotkey_api)');
t_bad(conf_with('hotkey_api; hotkey_auth off; hotkey_store store_up;'),
      qr/hotkey_api/, 'hotkey_api without a value');
t_bad(conf_with('hotkey_api on off; hotkey_auth off; hotkey_store store_up;'),
      qr/hotkey_api/, 'hotkey_api with two values');
t_bad(conf_with("$ON hotkey_api on; hotkey_store store_up;"),
      qr/hotkey_api.*duplicate|duplicate.*hotkey_api/, 'hotkey_api twice');
t_bad(conf_with("$ON hotkey_store store_up; hotkey_store_read_timeout abc;"),
      qr/hotkey_store_read_timeout/, 'hotkey_store_read_timeout abc');
t_bad(conf_with("$ON hotkey_store store_up; hotkey_store_connect_timeout -1;"),
      qr/hotkey_store_connect_timeout/, 'hotkey_store_connect_timeout -1');
t_bad(conf_with("$ON hotkey_store store_up; hotkey_store_send_timeout 1x;"),
      qr/hotkey_store_send_timeout/, 'hotkey_store_send_timeout 1x');
t_bad(conf_with($ON), qr/hotkey_store/, 'hotkey_api on without hotkey_store (names hotkey_store)');
t_bad(conf_with("$ON hotkey_store nosuchupstream;"),
      qr/host not found in upstream "nosuchupstream"|nosuchupstream/,
      'hotkey_store naming no upstream block and no host');
t_bad(conf_with("$ON hotkey_store 127.0.0.1:99999;"), qr/port|hotkey_store/, 'hotkey_store with port 99999');
t_bad(conf_with("$ON hotkey_store store_up other;"), qr/hotkey_store/, 'hotkey_store with two values');
t_bad(conf_with("$ON hotkey_store store_up; hotkey_store store_up;"),
      qr/hotkey_store/, 'hotkey_store twice');
t_bad(conf_with("$ON hotkey_store store_up; hotkey_auth maybe;"), qr/hotkey_auth/, 'hotkey_auth maybe');
t_bad(conf_with("hotkey_store store_up;", server => 'hotkey_api on;'),
      qr/hotkey_api.*not allowed|not allowed.*hotkey_api/, 'hotkey_api in server context');
t_bad(conf_with("hotkey_store store_up;", http => 'hotkey_api on;'),
      qr/hotkey_api/, 'hotkey_api in http context');

ok($t->nginx_alive, 'the running nginx is untouched by the nginx -t runs');
is_json_ok($t->list($pid, $iid), $exp, 'still 200 at the end');

$t->done;
