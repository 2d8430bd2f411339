#!/usr/bin/perl
# Replays the fuzz seed corpora (fuzz/corpus/<target>/) and every input a
# fuzzer ever crashed on (fuzz/regress/<target>/) through the fuzz targets,
# built without libFuzzer: fuzz/replay.c is their main(), compiled with
# -fsanitize=address,undefined by the first of $CC, clang, gcc whose
# sanitizer runtimes work here (clang first: its UBSan also reports
# NULL + 0, which gcc's does not), else without sanitizers by cc.
# Only the ASan/UBSan runtimes are used, never libFuzzer's.
# A crash, a sanitizer report or a non-zero exit fails.
use strict;
use warnings;
use Test::More;
use FindBin;
use File::Temp ();
use Cwd qw(abs_path);

my $top = abs_path("$FindBin::Bin/..");
my @targets = map { m{fuzz/fuzz_(\w+)\.c$} ? $1 : () }
              sort glob("$top/fuzz/fuzz_*.c");
ok(@targets >= 5, "fuzz targets: @targets");

# the sanitizer run (scripts/sanitize.sh) preloads libasan for nginx: the
# compiler and the replays here bring their own runtime
delete $ENV{LD_PRELOAD};

my $dir = File::Temp::tempdir('hotkey-fuzz-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my @libs = qw(-lcjson -lhiredis -lcrypto);
my @srcs = sort glob("$top/src/hotkey_*.c");

sub run_quiet {
    my ($log, @cmd) = @_;
    my $c = join ' ', map { "'$_'" } @cmd;
    system("$c >>'$log' 2>&1 </dev/null");
    return $? == 0;
}

sub slurp { open my $f, '<', $_[0] or return ''; local $/; <$f> // '' }

# which compiler has working sanitizers?
my @san = (q(-fsanitize=address,undefined), qw(-fno-sanitize-recover=all
             -fno-omit-frame-pointer));
open my $p, '>', "$dir/probe.c" or die;
print $p "#include <stdlib.h>\nint main(void){char *p=malloc(4);free(p);return 0;}\n";
close $p;
my $cc;
for my $c (grep { defined } $ENV{CC}, 'clang', 'gcc') {
    if (run_quiet("$dir/probe.log", $c, @san, '-o', "$dir/probe",
                  "$dir/probe.c")
        && run_quiet("$dir/probe.log", "$dir/probe"))
    {
        $cc = $c;
        last;
    }
}
unless ($cc) {
    diag("no working ASan/UBSan here: replaying without sanitizers");
    @san = ();
    $cc = $ENV{CC} || 'cc';
}
note("compiler: $cc @san");

# the sources once, then one link per target
my @objs;
for my $s (@srcs) {
    (my $o = $s) =~ s{.*/}{$dir/};
    $o =~ s/\.c$/.o/;
    run_quiet("$dir/build.log", $cc, '-g', '-O1', @san, "-I$top/src", '-c',
              '-o', $o, $s)
        or BAIL_OUT("cannot compile $s:\n" . slurp("$dir/build.log"));
    push @objs, $o;
}
run_quiet("$dir/build.log", $cc, '-g', '-O1', @san, '-c', '-o',
          "$dir/replay.o", "$top/fuzz/replay.c")
    or BAIL_OUT("cannot compile fuzz/replay.c:\n" . slurp("$dir/build.log"));

local $ENV{ASAN_OPTIONS} = 'detect_leaks=1:abort_on_error=0:exitcode=86';
local $ENV{UBSAN_OPTIONS} = 'print_stacktrace=1:halt_on_error=1:exitcode=87';

for my $t (@targets) {
    my $bin = "$dir/replay_$t";
    my $ok = run_quiet("$dir/build.log", $cc, '-g', '-O1', @san, "-I$top/src",
                       '-o', $bin, "$top/fuzz/fuzz_$t.c", "$dir/replay.o",
                       @objs, @libs);
    ok($ok, "fuzz_$t builds with $cc" . (@san ? ' and ASan+UBSan' : ''))
        or do { diag(slurp("$dir/build.log")); next };

    for my $kind (qw(corpus regress)) {
        my @in = sort grep { -f } glob("$top/fuzz/$kind/$t/*");
        next unless @in;
        my $log = "$dir/$t-$kind.log";
        # in batches, each file in turn, so a report names its input
        my $good = 1;
        while (my @batch = splice(@in, 0, 200)) {
            local $ENV{REPLAY_VERBOSE} = 1;
            unless (run_quiet($log, $bin, @batch)) {
                $good = 0;
                last;
            }
        }
        my $out = slurp($log);
        $good = 0 if $out =~ /AddressSanitizer|LeakSanitizer|runtime error/;
        my @files = grep { -f } glob("$top/fuzz/$kind/$t/*");
        ok($good, "fuzz_$t: " . @files . " $kind inputs replay cleanly")
            or do {
                my @l = split /\n/, $out;
                my ($last) = grep { /^replay: / } reverse @l;
                diag("last input: " . ($last // '?'));
                diag(join "\n", grep { !/^replay: / } @l[0 .. ($#l < 60 ? $#l : 60)]);
            };
    }
}

done_testing();
