#!/usr/bin/perl
# The Debian packages (debian/, `make deb`), as an operator meets them:
#
#  1. `make deb` in a copy of the tree (the checkout is not touched, nor
#     the copy) gives libnginx-mod-http-hotkey and hotkey-tools (the debug
#     symbols aside, in dbgsym/);
#  2. their contents and metadata (dpkg-deb -c, -I): the module in
#     /usr/lib/nginx/modules, the load_module snippet in
#     /usr/share/nginx/modules-available, conf-examples/ under
#     /usr/share/doc, no file under /etc (the enabled link is made by
#     postinst, as for Debian's own libnginx-mod-*), a dependency on the
#     nginx-abi-* the installed nginx provides and on the package of each
#     library the module links; hotkeyctl in /usr/bin; the analyzer and
#     its systemd unit shipped exactly when the Makefile builds one; the
#     scripts reload nginx through its trigger and never restart it;
#     lintian finds no error;
#  3. the analyzer's packaging, with a stand-in analyzer (a copy of the
#     tree with an `analyzer` target): binary, unit, user and credentials
#     set-up in postinst; the unit itself passes systemd-analyze verify;
#  4. on this machine, with an nginx running a configuration that includes
#     /etc/nginx/modules-enabled/*.conf like Debian's default and does not
#     use the module: installing keeps it serving, a reload loads the
#     module, `nginx -t` of the system's configuration loads it, a second
#     nginx with an API server answers a list from a real redis-server
#     through the packaged module; removing the package while both run
#     takes the link away (nginx -t passes, the reload drops the module,
#     the running API keeps serving until then); reinstalling enables it
#     again; an upgrade keeps it enabled, or disabled when the operator
#     removed the link; purging leaves nothing behind, and nginx still
#     starts.
#
# Root only (it installs packages); skipped when the packages are already
# installed here (an operator's machine is left alone). Whatever happens,
# the packages it installed are purged at exit. About a minute and a half:
# two package builds.
use strict;
use warnings;
use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use File::Find ();
use Time::HiRes qw(time sleep);
use Fcntl qw(:flock);
use Hotkey::Test qw(uuid hex32 expected_list is_json_ok);

my $top = abs_path("$FindBin::Bin/..");
my @PKGS = qw(libnginx-mod-http-hotkey hotkey-tools);
my $ENABLED = '/etc/nginx/modules-enabled/50-mod-http-hotkey.conf';
my $SNIPPET = '/usr/share/nginx/modules-available/mod-http-hotkey.conf';
my $SO = '/usr/lib/nginx/modules/ngx_http_hotkey_module.so';
my $LOAD = 'load_module modules/ngx_http_hotkey_module.so;';

# dpkg's state of a package: '' when dpkg knows nothing of it
sub pkg_status {
    my ($p) = @_;
    my $s = `dpkg-query -W -f='\${Status}' '$p' 2>/dev/null`;
    return $s =~ /not-installed/ ? '' : $s;
}

plan skip_all => 'installs Debian packages: needs root' if $>;
plan skip_all => 'not Debian (no dpkg-query, apt-get)'
    unless -x '/usr/bin/dpkg-query' && -x '/usr/bin/apt-get';
plan skip_all => 'no debian/ in the tree' unless -f "$top/debian/control";
# one run at a time on a machine (test suites of several checkouts may
# run at once): a second waits here for the first to purge
my $lock_file = (-d '/run/lock' ? '/run/lock' : '/tmp') . '/hotkey-debian-test.lock';
open my $lock, '>>', $lock_file or die "$lock_file: $!";
if (!flock($lock, LOCK_EX | LOCK_NB)) {
    diag("another t/400-debian.t runs on this machine: waiting for it ($lock_file)");
    my $end = time + 900;
    until (flock($lock, LOCK_EX | LOCK_NB)) {
        plan skip_all => "another t/400-debian.t held $lock_file for 15 minutes" if time > $end;
        sleep 1;
    }
}

for my $p (@PKGS) {
    plan skip_all => "$p is on this machine (" . pkg_status($p) . '): this '
        . 'test installs and purges it, so it leaves this machine alone'
        if pkg_status($p);
}
plan skip_all => "$ENABLED(.removed) is there: not a machine this test may change"
    if grep { -e $_ || -l $_ } $ENABLED, "$ENABLED.removed";

# the module under test is the packaged one: the harness loads none itself
$ENV{HOTKEY_MODULE} = 'none';

$ENV{DEBIAN_FRONTEND} = 'noninteractive';
# apt waits for dpkg's lock rather than failing at once
my $APT = 'apt-get -o DPkg::Lock::Timeout=300 -y -q';
$SIG{INT} = $SIG{TERM} = sub { die "interrupted\n" };

# sh(cmd): (exit code, stdout and stderr)
sub sh {
    my ($cmd) = @_;
    my $out = `($cmd) 2>&1 </dev/null`;
    return ($? >> 8, $out);
}

sub slurp { my ($f) = @_; open my $fh, '<', $f or return undef; local $/; <$fh> }

# ------------------------------------------------------------- clean up

my %installed_by_us;
my $had_analyzer_user = getpwnam('hotkey-analyzer') ? 1 : 0;
my @nginxes;

END {
    my $rc = $?;
    $_->cleanup for @nginxes;
    my @ours = grep { $installed_by_us{$_} && pkg_status($_) } @PKGS;
    if (@ours) {
        my ($prc, $out) = sh("$APT purge @ours");
        diag("purging @ours at exit failed: $out") if $prc;
    }
    # the analyzer's postinst adds a system user that purge keeps
    system('deluser --quiet --system hotkey-analyzer >/dev/null 2>&1')
        if %installed_by_us && !$had_analyzer_user && getpwnam('hotkey-analyzer');
    $? = $rc;
}

# ------------------------------------------------------ 1. make deb

{
    my ($rc, $out) = sh("'$top/scripts/deps.sh' && '$top/scripts/test-deps.sh'");
    is($rc, 0, 'scripts/deps.sh and scripts/test-deps.sh install what the packaging needs')
        or diag($out);
}

my $tmp = tempdir('hotkey-deb-t-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# copy_tree(dest): the files of the tree (tracked, and new ones not
# ignored), as a clone has them
sub copy_tree {
    my ($dest) = @_;
    mkdir $dest or die "$dest: $!";
    my ($rc, $out) = sh("cd '$top' && git ls-files -co --exclude-standard"
        . " | while IFS= read -r f; do [ -e \"\$f\" ] && printf '%s\\n' \"\$f\"; done"
        . " | tar -cf - -T - | tar -xf - -C '$dest'");
    die "copying the tree: $out" if $rc;
}

sub tree_listing {
    my ($dir) = @_;
    my @f;
    File::Find::find({ no_chdir => 1,
                       wanted => sub { push @f, substr($_, length $dir) } }, $dir);
    return join "\n", sort @f;
}

my $src = "$tmp/src";
copy_tree($src);
my $before = tree_listing($src);
my $t0 = time;
my ($rc, $out) = sh("make -C '$src' deb BUILD='$tmp/out'");
my $build_secs = time - $t0;
is($rc, 0, 'make deb succeeds') or diag($out);
note(sprintf 'make deb: %.0f s', $build_secs);
is(tree_listing($src), $before, 'make deb leaves the tree as it was (it builds in a copy)');

my $out_dir = "$tmp/out/deb";
my %deb = map { $_ => (glob "$out_dir/${_}_*.deb")[0] } @PKGS;
for my $p (@PKGS) {
    ok($deb{$p} && -f $deb{$p}, "make deb made $p") or BAIL_OUT("no $p package: $out");
}
my @all = sort glob "$out_dir/*.deb";
is(scalar @all, 2, 'only the two packages beside each other (debug symbols apart)')
    or diag("@all");
ok(-f "$out_dir/build.log", 'the build log is kept');

# ---------------------------------------------- 2. contents, metadata

# contents(deb): path => mode string ('-rw-r--r--'), './' dropped
sub contents {
    my ($deb) = @_;
    my %c;
    for (split /\n/, `dpkg-deb -c '$deb'`) {
        my @f = split ' ', $_, 6;
        my ($path) = $f[5] =~ m{^\.(/\S*)};
        $path =~ s{/$}{} if length $path > 1;
        $c{$path} = $f[0];
    }
    return \%c;
}

sub field { my ($deb, $f) = @_; my $v = `dpkg-deb -f '$deb' $f`; chomp $v; $v }

sub depends_names {
    my ($deb) = @_;
    return map { /^\s*([\w.+-]+)/ ? $1 : () } split /[,|]/, field($deb, 'Depends');
}

my $arch = `dpkg --print-architecture`;
chomp $arch;

my $mod = contents($deb{'libnginx-mod-http-hotkey'});
like($mod->{$SO} // '', qr/^-rw-r--r--/, "the module is $SO (0644)");
like($mod->{$SNIPPET} // '', qr/^-rw-r--r--/, "the snippet is $SNIPPET");
is(`dpkg-deb --fsys-tarfile '$deb{'libnginx-mod-http-hotkey'}' | tar -xOf - '.$SNIPPET'`,
   "$LOAD\n", 'the snippet is one load_module line, relative to nginx\'s prefix');
my @examples = map { s{.*/}{}r } glob "$top/conf-examples/*";
ok(@examples, 'the tree has conf-examples');
for my $e (@examples) {
    ok(exists $mod->{"/usr/share/doc/libnginx-mod-http-hotkey/conf-examples/$e"},
       "conf-examples/$e under /usr/share/doc/libnginx-mod-http-hotkey (not compressed)");
}
ok(exists $mod->{'/usr/share/doc/libnginx-mod-http-hotkey/copyright'}, 'copyright');
is_deeply([ grep { m{^/etc} } sort keys %$mod ], [],
          'no file under /etc: postinst makes the enabled link');

is(field($deb{'libnginx-mod-http-hotkey'}, 'Architecture'), $arch, "module: Architecture $arch");
my ($abi) = `dpkg-query -W -f='\${Provides}' nginx` =~ /(nginx-abi-[\w.+~-]+)/;
ok($abi, "the installed nginx provides an ABI ($abi)");
my %mdeps = map { $_ => 1 } depends_names($deb{'libnginx-mod-http-hotkey'});
ok($abi && $mdeps{$abi}, "module: Depends on $abi, the nginx it was built for")
    or diag(field($deb{'libnginx-mod-http-hotkey'}, 'Depends'));
is(scalar(grep { /^nginx-abi-/ } keys %mdeps), 1, 'module: one nginx ABI only');
like(field($deb{'libnginx-mod-http-hotkey'}, 'Recommends'), qr/\bnginx\b/, 'module: Recommends nginx');

# each library the module links: its package is a dependency
{
    my $x = "$tmp/x-mod";
    system("dpkg-deb -x '$deb{'libnginx-mod-http-hotkey'}' '$x'") == 0 or die;
    my @libs = grep { /=>\s*\// } split /\n/, `ldd '$x$SO'`;
    ok(@libs > 2, 'the module links shared libraries (ldd)');
    for (@libs) {
        my ($lib, $path) = /^\s*(\S+)\s+=>\s+(\S+)/ or next;
        my ($pkg) = `dpkg -S '$path' 2>/dev/null` =~ /^([^:\s]+)/;
        ($pkg) = `dpkg -S '/usr$path' 2>/dev/null` =~ /^([^:\s]+)/ unless $pkg;
        ok($pkg && $mdeps{$pkg}, "module: Depends on " . ($pkg // '?') . " ($lib)")
            or diag(field($deb{'libnginx-mod-http-hotkey'}, 'Depends'));
    }
}

# maintainer scripts: nginx is reloaded by its own trigger, never restarted
{
    my $c = "$tmp/ctl-mod";
    system("dpkg-deb -e '$deb{'libnginx-mod-http-hotkey'}' '$c'") == 0 or die;
    my $postinst = slurp("$c/postinst") // '';
    like($postinst, qr/dpkg-trigger --no-await nginx-reload/, 'postinst: asks nginx for a reload (its trigger)');
    like($postinst, qr{mod-http-hotkey\.conf:50-mod-http-hotkey\.conf}, 'postinst: links the snippet as 50-mod-http-hotkey.conf');
    like(slurp("$c/prerm") // '', qr{modules-enabled/\$to \S*modules-enabled/\$to\.removed},
         'prerm: the link is moved away before the files are removed');
    my @restart = grep { (slurp("$c/$_") // '') =~ /\brestart\b|invoke-rc\.d/ } qw(postinst prerm postrm);
    is_deeply(\@restart, [], 'no script restarts nginx itself');
}

my $tools = contents($deb{'hotkey-tools'});
like($tools->{'/usr/bin/hotkeyctl'} // '', qr/^-rwxr-xr-x/, 'hotkey-tools: /usr/bin/hotkeyctl');
ok(exists $tools->{'/usr/share/man/man1/hotkeyctl.1.gz'}, 'hotkey-tools: its manual page');
my $have_analyzer = system("make -s -n -C '$src' analyzer >/dev/null 2>&1") == 0 ? 1 : 0;
is(exists $tools->{'/usr/sbin/hotkey-analyzer'} ? 1 : 0, $have_analyzer,
   'hotkey-tools: /usr/sbin/hotkey-analyzer exactly when the Makefile builds one ('
   . ($have_analyzer ? 'it does' : 'not yet') . ')');
is(scalar(grep { /hotkey-analyzer\.service$/ } keys %$tools), $have_analyzer,
   'hotkey-tools: the systemd unit exactly when the analyzer is there');
is(field($deb{'hotkey-tools'}, 'Architecture'), $arch, "tools: Architecture $arch");

# each library the tools link (libssl for their TLS too): its package is
# a dependency
{
    my $x = "$tmp/x-tools";
    system("dpkg-deb -x '$deb{'hotkey-tools'}' '$x'") == 0 or die;
    my %tdeps = map { $_ => 1 } depends_names($deb{'hotkey-tools'});
    my %seen;
    for my $bin (grep { -e "$x$_" } '/usr/bin/hotkeyctl', '/usr/sbin/hotkey-analyzer') {
        for (grep { /=>\s*\// } split /\n/, `ldd '$x$bin'`) {
            my ($lib, $path) = /^\s*(\S+)\s+=>\s+(\S+)/ or next;
            next if $seen{$lib}++;
            my ($pkg) = `dpkg -S '$path' 2>/dev/null` =~ /^([^:\s]+)/;
            ($pkg) = `dpkg -S '/usr$path' 2>/dev/null` =~ /^([^:\s]+)/ unless $pkg;
            ok($pkg && $tdeps{$pkg}, "tools: Depends on " . ($pkg // '?') . " ($lib)")
                or diag(field($deb{'hotkey-tools'}, 'Depends'));
        }
    }
    ok($seen{'libssl.so.3'}, 'tools: link libssl (TLS to Redis)');
}

SKIP: {
    skip 'lintian not installed', 1 unless -x '/usr/bin/lintian';
    my ($lrc, $lout) = sh("lintian '$deb{'libnginx-mod-http-hotkey'}' '$deb{'hotkey-tools'}'");
    my @errors = grep { /^E: / } split /\n/, $lout;
    ok(!@errors && $lrc != 2, 'lintian: no error') or diag($lout);
    note("lintian:\n$lout");
}

# --------------------------------------- 3. the analyzer's packaging

SKIP: {
    skip 'the real analyzer is packaged above', 1 if $have_analyzer;
    my $asrc = "$tmp/asrc";
    copy_tree($asrc);
    mkdir "$asrc/analyzer-stub";
    open my $c, '>', "$asrc/analyzer-stub/main.c" or die;
    print $c "int main(void) { return 0; }\n";
    close $c;
    open my $mk, '>>', "$asrc/Makefile" or die;
    print $mk "\nanalyzer: \$(BUILD)/hotkey-analyzer\n"
            . "\$(BUILD)/hotkey-analyzer: analyzer-stub/main.c\n"
            . "\t\@mkdir -p \$(BUILD)\n\t\$(CC) \$(UNIT_CFLAGS) -o \$@ \$<\n";
    close $mk;
    # the operator's way: dpkg-buildpackage in the tree, packages in ..
    my ($arc, $aout) = sh("cd '$asrc' && dpkg-buildpackage -us -uc -b");
    is($arc, 0, 'with an analyzer: dpkg-buildpackage -us -uc -b succeeds') or diag($aout);
    my ($adeb) = glob "$tmp/hotkey-tools_*.deb";
    my $ac = $adeb ? contents($adeb) : {};
    like($ac->{'/usr/sbin/hotkey-analyzer'} // '', qr/^-rwxr-xr-x/, 'with an analyzer: /usr/sbin/hotkey-analyzer');
    my ($unit) = grep { m{^/(usr/)?lib/systemd/system/hotkey-analyzer\.service$} } keys %$ac;
    ok($unit, 'with an analyzer: its systemd unit');
    ok(exists $ac->{'/usr/bin/hotkeyctl'}, 'with an analyzer: hotkeyctl still');
    my %adeps = map { $_ => 1 } $adeb ? depends_names($adeb) : ();
    ok($adeps{adduser}, 'with an analyzer: Depends on adduser (postinst adds its user)');
    my $ctl = "$tmp/ctl-tools";
    system("dpkg-deb -e '$adeb' '$ctl'") if $adeb;
    my $postinst = slurp("$ctl/postinst") // '';
    like($postinst, qr/adduser --system\b.*hotkey-analyzer/s, 'postinst: a system user hotkey-analyzer');
    like($postinst, qr{umask 077 && : >/etc/hotkey/analyzer\.credentials}, 'postinst: the credentials file, made 0600');
    like($postinst, qr{chown hotkey-analyzer:hotkey-analyzer /etc/hotkey/analyzer\.credentials}, 'postinst: owned by that user');
    like($postinst, qr/deb-systemd-helper .*hotkey-analyzer\.service/, 'postinst: the unit registered (dh_installsystemd)');
    unlike($postinst, qr/deb-systemd-invoke start/, 'postinst: not started before it is configured');
}

# the unit as written: what the issue asks of it, and systemd's own check
{
    my $unit = slurp("$top/debian/hotkey-tools.hotkey-analyzer.service") // '';
    my %set;
    for (split /\n/, $unit) { $set{$1} = $2 if /^\s*(\w+)=(.*?)\s*$/ }
    is($set{User}, 'hotkey-analyzer', 'unit: its own user');
    like($set{ExecStart} // '', qr{^/usr/sbin/hotkey-analyzer\b.*/etc/hotkey/analyzer\.credentials},
         'unit: runs /usr/sbin/hotkey-analyzer with /etc/hotkey/analyzer.credentials');
    is($set{Restart}, 'on-failure', 'unit: Restart=on-failure');
    is($set{$_->[0]}, $_->[1], "unit: $_->[0]=$_->[1]")
        for [ProtectSystem => 'strict'], [NoNewPrivileges => 'yes'], [PrivateTmp => 'yes'],
            [ProtectHome => 'yes'], [PrivateDevices => 'yes'];
    SKIP: {
        skip 'no systemd-analyze', 1 unless -x '/usr/bin/systemd-analyze';
        # the binary is not here: systemd checks everything else
        my $d = "$tmp/unit";
        mkdir $d;
        open my $u, '>', "$d/hotkey-analyzer.service" or die;
        print $u $unit =~ s{^ExecStart=/usr/sbin/hotkey-analyzer}{ExecStart=/bin/true}mr;
        close $u;
        my ($vrc, $vout) = sh("systemd-analyze verify '$d/hotkey-analyzer.service'");
        ok($vrc == 0 && $vout !~ /Unknown|Invalid|Failed|ignoring/i, 'unit: systemd-analyze verify')
            or diag($vout);
    }
}

# ----------------------------------------------- 4. on this machine

# nginx_T(): nginx -T (test and dump) of the system's configuration:
# (exit code, output)
sub nginx_T { sh('/usr/sbin/nginx -T') }

sub loads_module {
    my ($t) = @_;
    my @w = $t->worker_pids or return 0;
    for my $pid (@w) {
        return 0 unless (slurp("/proc/$pid/maps") // '') =~ /ngx_http_hotkey_module\.so/;
    }
    return 1;
}

# gone_in(pid, seconds): the process is gone (or a zombie) within that time
sub gone_in {
    my ($pid, $secs) = @_;
    my $end = time + $secs;
    while (1) {
        my $st = slurp("/proc/$pid/stat");
        return 1 if !defined $st || $st =~ /^\d+ \(.*\) [ZX] /s;
        return 0 if time >= $end;
        sleep 0.05;
    }
}

sub plain_server {
    my ($t) = @_;
    my $port = $t->nginx_port;
    return "    server {\n        listen 127.0.0.1:$port;\n"
         . "        location / { return 200 \"plain\\n\"; }\n    }\n";
}

sub answers_plain {
    my ($t, $name) = @_;
    my $res = $t->get('/');
    ok(($res->{status} // 0) == 200 && ($res->{body} // '') eq "plain\n", $name)
        or diag(explain($res));
}

my $include = 'include /etc/nginx/modules-enabled/*.conf;';

# new_nginx(): a harness nginx whose prefix is laid out as Debian's
# /usr/share/nginx: modules/ is /usr/lib/nginx/modules, where the
# snippets' relative load_module paths lead
sub new_nginx {
    my $t = Hotkey::Test->new(main => $include, workers => 1);
    push @nginxes, $t;
    symlink('/usr/lib/nginx/modules', $t->prefix . '/modules') or die "symlink: $!";
    return $t;
}

# an operator's nginx: Debian's include of modules-enabled, no hotkey_*
my $op = new_nginx();
ok(eval { $op->start_nginx(plain_server($op)) }, 'before: an nginx with a configuration that does not use the module runs')
    or diag($@);
ok(!loads_module($op), 'before: it has no hotkey module');
my ($trc, $tout) = nginx_T();
is($trc, 0, "before: nginx -t of the system's configuration passes") or diag($tout);

# install
($rc, $out) = sh("$APT install '$deb{'libnginx-mod-http-hotkey'}' '$deb{'hotkey-tools'}'");
$installed_by_us{$_} = 1 for grep { pkg_status($_) } @PKGS;
is($rc, 0, 'apt-get install ./libnginx-mod-http-hotkey_*.deb ./hotkey-tools_*.deb') or diag($out);
like(pkg_status($_), qr/install ok installed/, "$_ is installed") for @PKGS;
is(readlink($ENABLED), $SNIPPET, "install: $ENABLED links the snippet");
ok(-f $SO, "install: $SO");
ok($op->nginx_alive, 'install: the running nginx is still running');
answers_plain($op, 'install: it still answers');
($trc, $tout) = nginx_T();
is($trc, 0, "install: nginx -t of the system's configuration passes") or diag($tout);
like($tout, qr/^\Q$LOAD\E$/m, 'install: ... and loads the module (nginx -T)');
my ($hrc, $hout) = sh('hotkeyctl help');
ok($hrc == 0 && $hout =~ /^\s+token\s/m, 'install: hotkeyctl is on PATH') or diag($hout);

my ($rrc, $replaced) = $op->reload;
ok($rrc == 0 && $replaced && $op->nginx_alive, 'install: the running nginx reloads');
ok(loads_module($op), 'install: its new workers have the module');
answers_plain($op, 'install: it answers after the reload');

# the packaged module serving the API, with a real redis-server
my $api = new_nginx();
$api->start_redis;
my ($pid, $iid) = (hex32(), uuid());
$api->add_instance($iid, project => $pid);
my @tasks = $api->add_tasks($iid, map { { status => $_ } } qw(success failed running waiting));
my ($nrc, $nout) = $api->nginx_t($api->api_server);
is($nrc, 0, 'nginx -t of an API server with the packaged module') or diag($nout);
ok(eval { $api->start_nginx($api->api_server) }, 'an nginx with an API server starts') or diag($@);
ok(loads_module($api), '... with the packaged module');
is_json_ok($api->list($pid, $iid, 'limit=3'), expected_list($iid, \@tasks, limit => 3),
           'the packaged module answers a list from redis');

# remove while both run
($rc, $out) = sh("$APT remove libnginx-mod-http-hotkey");
is($rc, 0, 'apt-get remove libnginx-mod-http-hotkey') or diag($out);
ok(!-e $ENABLED && !-l $ENABLED, 'remove: the enabled link is gone');
is_deeply([ glob '/etc/nginx/modules-enabled/*hotkey*.conf' ], [], 'remove: no hotkey *.conf in modules-enabled');
ok(!-e $SO, "remove: $SO is gone");
($trc, $tout) = nginx_T();
is($trc, 0, "remove: nginx -t of the system's configuration passes") or diag($tout);
unlike($tout, qr/hotkey/, 'remove: ... without the module');
is_json_ok($api->list($pid, $iid, 'limit=3'), expected_list($iid, \@tasks, limit => 3),
           'remove: the running API nginx keeps serving (its module is still mapped)');
# `nginx -s quit` would read its configuration, which names hotkey_api
{
    my ($m, $t0) = ($api->master_pid, time);
    $api->stop_nginx(signal => 1);
    ok($m && gone_in($m, 0) && time - $t0 < 9, 'remove: the API nginx stops on SIGQUIT');
}
$api->done(no_done_testing => 1);
answers_plain($op, 'remove: the operator nginx still answers');
($rrc, $replaced) = $op->reload;
ok($rrc == 0 && $replaced && $op->nginx_alive, 'remove: the operator nginx reloads');
ok(!loads_module($op), 'remove: its new workers have no module');
answers_plain($op, 'remove: it answers after the reload');

# reinstall
($rc, $out) = sh("$APT install '$deb{'libnginx-mod-http-hotkey'}'");
is($rc, 0, 'reinstall') or diag($out);
is(readlink($ENABLED), $SNIPPET, 'reinstall: the link is back');
($rrc, $replaced) = $op->reload;
ok($rrc == 0 && $replaced && loads_module($op), 'reinstall: a reload loads the module again');
answers_plain($op, 'reinstall: it answers');

# upgrades: the same package repacked under higher versions
sub bumped {
    my ($deb, $suffix) = @_;
    my $d = "$tmp/repack-$suffix";
    system('dpkg-deb', '-R', $deb, $d) == 0 or die "dpkg-deb -R $deb";
    my $control = slurp("$d/DEBIAN/control");
    $control =~ s/^(Version: \S+)$/$1+$suffix/m or die 'no Version';
    open my $fh, '>', "$d/DEBIAN/control" or die;
    print $fh $control;
    close $fh;
    my $new = "$tmp/libnginx-mod-http-hotkey-$suffix.deb";
    system("dpkg-deb -b '$d' '$new' >/dev/null") == 0 or die "dpkg-deb -b $d";
    return $new;
}
($rc, $out) = sh("$APT install '" . bumped($deb{'libnginx-mod-http-hotkey'}, 'up1') . "'");
ok($rc == 0 && pkg_status('libnginx-mod-http-hotkey') =~ /installed/ && `dpkg-query -W -f='\${Version}' libnginx-mod-http-hotkey` =~ /\+up1$/,
   'upgrade: a newer version installs over the old') or diag($out);
is(readlink($ENABLED), $SNIPPET, 'upgrade: the module stays enabled');
($rrc, $replaced) = $op->reload;
ok($rrc == 0 && $replaced && loads_module($op), 'upgrade: a reload loads the new module');
unlink $ENABLED or die "unlink $ENABLED: $!";
($rc, $out) = sh("$APT install '" . bumped($deb{'libnginx-mod-http-hotkey'}, 'up2') . "'");
is($rc, 0, 'upgrade after the operator disabled the module (removed the link)') or diag($out);
ok(!-e $ENABLED && !-l $ENABLED, 'upgrade: the module stays disabled, as the operator left it');
($trc, $tout) = nginx_T();
ok($trc == 0 && $tout !~ /hotkey/, "upgrade: nginx -t passes, without the module") or diag($tout);

# purge
($rc, $out) = sh("$APT purge @PKGS");
is($rc, 0, 'apt-get purge') or diag($out);
is(pkg_status($_), '', "purge: dpkg knows nothing of $_") for @PKGS;
ok(!grep({ -e $_ || -l $_ } $ENABLED, "$ENABLED.removed", $SNIPPET, $SO, '/usr/bin/hotkeyctl'),
   'purge: no link, snippet, module or hotkeyctl left');
($trc, $tout) = nginx_T();
is($trc, 0, "purge: nginx -t of the system's configuration passes") or diag($tout);
unlike($tout, qr/hotkey/, 'purge: ... without the module');
($rrc, $replaced) = $op->reload;
ok($rrc == 0 && $replaced && !loads_module($op), 'purge: the running nginx reloads, without the module');
{
    my ($m, $t0) = ($op->master_pid, time);
    $op->stop_nginx;
    ok($m && gone_in($m, 0) && time - $t0 < 9, 'purge: nginx stops (nginx -s quit)');
}
ok(eval { $op->start_nginx }, 'purge: nginx starts again') or diag($@);
answers_plain($op, 'purge: and answers');
$op->done(no_done_testing => 1);

done_testing();
