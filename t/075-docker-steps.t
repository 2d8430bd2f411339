#!/usr/bin/perl
# docker/Dockerfile's steps, outside Docker (no Docker engine needed), as far
# as they go:
#
#  1. every package of every `apt-get install` line has a candidate in this
#     machine's apt lists (`apt-cache policy`); both stages get the same
#     nginx version as nginx-dev (a module loads only into its own nginx);
#  2. the build stage: its COPY lines are replayed into an empty folder
#     standing for the image's root (only what is copied is there), then
#     its RUN lines (apt-get ones aside) run there with the image's paths
#     moved under that folder: dpkg-buildpackage must build the Debian
#     packages from the copied files alone, where the run stage copies
#     them from; hotkey-tools has the analyzer exactly when the tree's
#     Makefile builds one (a COPY line missing its sources would drop it);
#     every dependency of the packages is there for apt in the run stage
#     (nginx-abi-* provided by the nginx it installs); the libraries the
#     packaged module links are in the run stage's packages or their
#     dependencies;
#  3. the run stage likewise: COPY (--from=build takes the packages just
#     built), `apt-get install` of those local packages replayed by
#     unpacking them (dpkg-deb -x) into the run stage's folder, then its
#     RUN check, i.e. nginx -t on docker/nginx.conf with the module (paths
#     moved the same way, inside the config too);
#  4. docker/nginx.conf, compose.yaml and the Dockerfile agree: EXPOSEd
#     ports are the ones listened on, the published port is one of them,
#     the keys compose mounts are where nginx.conf reads them.
#
# Paths moved: /src /etc /tmp /run /usr/lib/nginx /var/lib/nginx. A RUN
# line that still names another absolute path (at the start of a shell
# word) is not run: the test fails instead. Runs as root only for step 3
# (the image's `user www-data` and nginx's temp folders need it).
#
# Standalone: core Perl modules only. Slow-ish: step 2 builds the packages
# from scratch (HOTKEY_SKIP_DOCKER_BUILD=1 skips 2-3).
use strict;
use warnings;
use Test::More;
use FindBin;
use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use File::Path qw(make_path);
use File::Basename qw(dirname basename);

my $top = abs_path("$FindBin::Bin/..");
my $dockerfile = "$top/docker/Dockerfile";
plan skip_all => 'no docker/Dockerfile' unless -f $dockerfile;

sub slurp { my ($f) = @_; open my $fh, '<', $f or die "$f: $!"; local $/; <$fh> }
sub spew  { my ($f, $s) = @_; open my $fh, '>', $f or die "$f: $!"; print $fh $s; close $fh or die }

# ------------------------------------------------------------ the Dockerfile

# instructions: [stage index, keyword, arguments], continuation lines
# joined, comments dropped
my (@stages, @instr);
{
    my $text = slurp($dockerfile);
    $text =~ s/^\s*#[^\n]*\n//mg;         # comment lines (also inside RUN)
    $text =~ s/\\\n/ /g;                  # continuations
    for my $line (split /\n/, $text) {
        next unless $line =~ /\S/;
        my ($kw, $args) = $line =~ /^\s*(\w+)\s+(.*?)\s*$/ or next;
        $kw = uc $kw;
        if ($kw eq 'FROM') {
            my ($image, $name) = $args =~ /^(\S+)(?:\s+AS\s+(\S+))?/i;
            push @stages, { image => $image, name => $name // scalar @stages };
        }
        push @instr, [ $#stages, $kw, $args ];
    }
}
is(scalar @stages, 2, 'two stages (build, run)');
my %stage_no = map { $stages[$_]{name} => $_ } 0 .. $#stages;
my ($build_no, $run_no) = (0, $#stages);
like($stages[$_]{image}, qr/^debian:bookworm\b/, "stage $_ is Debian bookworm") for 0 .. $#stages;

sub runs { my ($s) = @_; map { $_->[2] } grep { $_->[0] == $s && $_->[1] eq 'RUN' } @instr }

# ---------------------------------------------------------- 1. the packages

# apt_args(run line): the arguments of its `apt-get install`: package
# names, and paths of local .deb files (with a /)
sub apt_args {
    my ($run) = @_;
    my @p;
    for my $cmd (split /&&|;|\|\|/, $run) {
        next unless $cmd =~ /\bapt-get\s+(?:\S+\s+)*?install\s+(.*)$/;
        push @p, grep { !/^-/ } split ' ', $1;
    }
    return @p;
}
sub apt_packages { grep { !m{/} } apt_args(@_) }
sub apt_local    { grep { m{/} } apt_args(@_) }

my %pkgs;       # stage -> [packages]
for my $s (0 .. $#stages) {
    $pkgs{$s} = [ map { apt_packages($_) } runs($s) ];
    ok(@{ $pkgs{$s} }, "stage $s installs packages with apt-get");
}
my @run_local = map { apt_local($_) } runs($run_no);
ok(@run_local, 'the run stage installs local packages (from the build stage) with apt-get');

my $have_apt = -x '/usr/bin/apt-cache';
my %candidate;
SKIP: {
    skip 'no apt-cache (not Debian?)', 1 unless $have_apt;
    for my $p (map { @$_ } values %pkgs) {
        next if exists $candidate{$p};
        my $out = `apt-cache policy '$p' 2>&1`;
        my ($c) = $out =~ /^\s*Candidate:\s*(\S+)/m;
        $candidate{$p} = $c;
        ok(defined $c && $c ne '(none)', "apt-cache policy $p: a candidate")
            or diag($out || "no such package (apt-get update?)");
    }
    my $dev = `apt-cache policy nginx-dev 2>/dev/null` =~ /Candidate:\s*(\S+)/ ? $1 : '';
    is($candidate{nginx}, $dev, 'the run stage gets the nginx version the module is built against (nginx-dev)')
        if grep { $_ eq 'nginx' } @{ $pkgs{$run_no} };
    ok((grep { $_ eq 'nginx-dev' } @{ $pkgs{$build_no} }), 'the build stage installs nginx-dev');
}

# ------------------------------------------ 2, 3. the stages, replayed here

my $tmp = tempdir('hotkey-docker-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my @moved = qw(/src /etc /tmp /run /usr/lib/nginx /var/lib/nginx);
my $moved_re = join '|', map { quotemeta } @moved;

# move(text, root): the image's paths under root
sub move {
    my ($text, $root) = @_;
    $text =~ s{(?<![\w.\-/])((?:$moved_re)(?=[/\s'"|;:&)]|$))}{$root$1}g;
    return $text;
}

# outside(cmd, root): absolute paths at the start of a shell word that are
# not under root (nor /dev/...)
sub outside {
    my ($cmd, $root) = @_;
    my @bad;
    while ($cmd =~ m{(?:^|[\s'"<>=])(/[^\s'"|;&<>]*)}g) {
        my $p = $1;
        push @bad, $p unless index($p, $root) == 0 || $p =~ m{^/dev/};
    }
    return @bad;
}

# replay(stage, root): COPY and RUN (apt-get lines aside) of one stage
sub replay {
    my ($s, $root, %roots) = @_;
    my $workdir = '/';
    for my $i (grep { $_->[0] == $s } @instr) {
        my (undef, $kw, $args) = @$i;
        if ($kw eq 'WORKDIR') {
            $workdir = $args =~ m{^/} ? $args : "$workdir/$args";
            make_path("$root$workdir");
        } elsif ($kw eq 'COPY') {
            my @a = split ' ', $args;
            my $from_root = "$top/";
            my $from_image = 0;
            while (@a && $a[0] =~ /^--(\w+)=(.*)$/) {
                shift @a;
                if ($1 eq 'from') {
                    my $n = $stage_no{$2} // $2;
                    $from_root = $roots{$n} or return fail("COPY --from=$2: no such stage replayed");
                    $from_image = 1;
                }
            }
            my $dst = pop @a;
            $dst = "$workdir/$dst" unless $dst =~ m{^/};
            my $dst_path = "$root$dst";
            for my $src (@a) {
                my $from = $from_image ? "$from_root$src" : "$top/$src";
                ok(-e $from, "COPY $src: exists") or next;
                if (-d $from) {
                    make_path($dst_path);
                    system('cp', '-a', "$from/.", "$dst_path/") == 0 or fail("cp $from");
                } else {
                    my $to = ($dst =~ m{/$} || -d $dst_path) ? "$dst_path/" . basename($from) : $dst_path;
                    make_path(dirname($to));
                    if (!$from_image && $from =~ /\.conf$/) {
                        # an nginx config of the repo: the image's paths moved
                        spew($to, move(slurp($from), $root));
                    } else {
                        system('cp', '-a', $from, $to) == 0 or fail("cp $from");
                    }
                }
            }
        } elsif ($kw eq 'RUN') {
            if ($args =~ /\bapt-get\b/) {
                # local packages: unpacked where apt would put their files
                for my $pattern (apt_local($args)) {
                    my @debs = glob move($pattern, $root);
                    ok(@debs, "apt-get install $pattern: there are such packages") or next;
                    for my $deb (@debs) {
                        is(system('dpkg-deb', '-x', $deb, $root), 0,
                           'apt-get install ' . basename($deb) . ': unpacked (dpkg-deb -x)');
                    }
                }
                note("not run (packages checked above): $args");
                next;
            }
            my $cmd = move($args, $root);
            my @bad = outside($cmd, $root);
            ok(!@bad, "RUN: only paths of the image: $args") or do {
                diag("outside the replayed root: @bad");
                next;
            };
            my $pid = open(my $fh, '-|') // die "fork: $!";
            if (!$pid) {
                open STDERR, '>&', \*STDOUT;
                chdir "$root$workdir" or die "chdir: $!";
                exec '/bin/sh', '-c', $cmd;
                exit 127;
            }
            my $out = do { local $/; <$fh> };
            close $fh;
            is($?, 0, "RUN succeeds: $args") or diag($out);
            note($out) if $out;
        }
    }
    return 1;
}

SKIP: {
    skip 'HOTKEY_SKIP_DOCKER_BUILD is set', 1 if $ENV{HOTKEY_SKIP_DOCKER_BUILD};
    skip 'no nginx-dev (/usr/share/nginx/src)', 1 unless -f '/usr/share/nginx/src/conf_flags';

    my %roots;
    $roots{$build_no} = "$tmp/build";
    make_path($roots{$build_no});
    replay($build_no, $roots{$build_no});

    # the packages the run stage copies from the build stage
    my @from = map { [ split ' ', $_->[2] ] }
               grep { $_->[0] == $run_no && $_->[1] eq 'COPY' && $_->[2] =~ /--from=/ } @instr;
    my @debs = sort map { glob "$roots{$build_no}$_->[-2]/*.deb" } @from;
    my %deb = map { my $p = `dpkg-deb -f '$_' Package`; chomp $p; ($p => $_) } @debs;
    ok($deb{$_}, "the build stage made $_, where the run stage copies it from")
        for qw(libnginx-mod-http-hotkey hotkey-tools);
    ok(!grep({ /-dbgsym_/ } @debs), 'no debug symbol package in the image');

    my $have_analyzer = system("make -s -n -C '$top' analyzer >/dev/null 2>&1") == 0 ? 1 : 0;
    SKIP: {
        skip 'no hotkey-tools package', 1 unless $deb{'hotkey-tools'};
        my $has = `dpkg-deb -c '$deb{'hotkey-tools'}'` =~ m{\./usr/sbin/hotkey-analyzer$}m ? 1 : 0;
        is($has, $have_analyzer, 'hotkey-tools has the analyzer exactly when the Makefile builds one');
    }

    # each dependency: another of these packages, a package apt has (in
    # the version asked), or a virtual one that the candidate of a package
    # provides (nginx-abi-*)
    SKIP: {
        skip 'no apt-cache', 1 unless $have_apt;
        for my $p (sort keys %deb) {
            for my $alts (split /,\s*/, `dpkg-deb -f '$deb{$p}' Depends` =~ s/\s+\z//r) {
                next unless $alts =~ /\S/;
                my $ok = 0;
                for my $alt (split /\s*\|\s*/, $alts) {
                    my ($name, $op, $ver) = $alt =~ /^\s*([\w.+-]+)(?::\w+)?\s*(?:\(\s*([<>=]+)\s*([^)\s]+)\s*\))?/ or next;
                    if ($deb{$name}) { $ok = 1; last }
                    my $c = `apt-cache policy '$name' 2>/dev/null` =~ /Candidate:\s*(\S+)/ ? $1 : '(none)';
                    if ($c ne '(none)') {
                        my %dop = ('>=' => 'ge', '<=' => 'le', '=' => 'eq', '>>' => 'gt', '<<' => 'lt');
                        $ok = !$op || system('dpkg', '--compare-versions', $c, $dop{$op}, $ver) == 0;
                        last if $ok;
                        next;
                    }
                    my $show = `apt-cache showpkg '$name' 2>/dev/null`;
                    my ($rp) = $show =~ /^Reverse Provides:[^\n]*\n(.*)\z/ms;
                    for (split /\n/, $rp // '') {
                        my ($prov, $pv) = split ' ';
                        next unless $prov;
                        my $pc = `apt-cache policy '$prov' 2>/dev/null` =~ /Candidate:\s*(\S+)/ ? $1 : '';
                        if ($pc eq ($pv // '')) { $ok = 1; last }
                    }
                    last if $ok;
                }
                ok($ok, "$p: apt in the run stage can satisfy '$alts'");
            }
        }
    }

    # the module's libraries: from the run stage's packages, the local
    # packages' dependencies, or what they pull in
    my $so = "$tmp/deb-x/usr/lib/nginx/modules/ngx_http_hotkey_module.so";
    system('dpkg-deb', '-x', $deb{'libnginx-mod-http-hotkey'}, "$tmp/deb-x")
        if $deb{'libnginx-mod-http-hotkey'};
    ok(-f $so, 'the module package holds /usr/lib/nginx/modules/ngx_http_hotkey_module.so');
    SKIP: {
        skip 'no module, no apt-cache or no ldd', 1 unless -f $so && $have_apt && -x '/usr/bin/ldd';
        my @roots = @{ $pkgs{$run_no} };
        for my $d (values %deb) {
            push @roots, grep { !$deb{$_} && `apt-cache policy '$_' 2>/dev/null` =~ /Candidate:\s*\d/ }
                         map { /^\s*([\w.+-]+)/ ? $1 : () }
                         split /[,|]/, `dpkg-deb -f '$d' Depends`;
        }
        my $closure = join ' ', map { "'$_'" } @roots;
        my %dep = map { /^\s*(?:\|?Depends:\s*|PreDepends:\s*)?<?([\w.+-]+)/ ? ($1 => 1) : () }
                  split /\n/, `apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances $closure 2>/dev/null`;
        $dep{$_} = 1 for @roots;
        for (split /\n/, `ldd '$so'`) {
            my ($lib, $path) = /^\s*(\S+)\s+=>\s+(\S+)/ or next;
            my ($pkg) = `dpkg -S '$path' 2>/dev/null` =~ /^([^:\s]+)/;
            ($pkg) = `dpkg -S '$lib' 2>/dev/null` =~ /^([^:\s]+)/ unless $pkg;
            ok($pkg && $dep{$pkg}, "$lib (package " . ($pkg // '?') . ") is in the run stage")
                or diag("run stage packages: @roots");
        }
    }

    SKIP: {
        skip 'the run stage check needs root (user www-data, /var/lib/nginx)', 1 if $>;
        skip 'no packages built', 1 unless $deb{'libnginx-mod-http-hotkey'};
        $roots{$run_no} = "$tmp/run";
        make_path(map { "$roots{$run_no}$_" } @moved);
        replay($run_no, $roots{$run_no}, %roots);
        ok(-f "$roots{$run_no}/usr/lib/nginx/modules/ngx_http_hotkey_module.so",
           'the run stage has the module in /usr/lib/nginx/modules/');
        ok(!-e "$roots{$run_no}/tmp/check", 'the run stage check cleans up after itself');
    }
}

# ------------------------------------------------- 4. ports and mounts agree

my $conf = slurp("$top/docker/nginx.conf");
my %listen = map { $_ => 1 } $conf =~ /^\s*listen\s+(?:[\d.]+:)?(\d+)\b/mg;
my %expose = map { $_ => 1 } map { split ' ' } map { $_->[2] }
             grep { $_->[0] == $run_no && $_->[1] eq 'EXPOSE' } @instr;
is_deeply([ sort keys %expose ], [ sort keys %listen ], 'EXPOSE names the ports docker/nginx.conf listens on');

my $compose = -f "$top/docker/compose.yaml" ? slurp("$top/docker/compose.yaml") : '';
SKIP: {
    skip 'no docker/compose.yaml', 2 unless $compose;
    my @published = $compose =~ /^\s*-\s*"?(?:[\d.]+:)?\d+:(\d+)"?\s*$/mg;
    ok(@published, 'compose publishes a port');
    ok($listen{$_}, "compose publishes container port $_, which nginx listens on") for @published;

    my @files = $conf =~ /^\s*hotkey_auth_(?:token_keys|credentials)\s+(\S+);/mg;
    ok(@files, 'docker/nginx.conf reads key files');
    my @targets = $compose =~ /^\s*target:\s*(\S+)\s*$/mg;
    for my $f (@files) {
        ok((grep { index($f, "$_/") == 0 } @targets), "$f is inside a volume compose mounts")
            or diag("targets: @targets");
    }
    my $dockerfile_text = slurp($dockerfile);
    for my $f (@files) {
        like($dockerfile_text, qr/\Q$f\E/, "the Dockerfile's check replaces $f");
    }
}

done_testing();
