#!/usr/bin/perl
# Runs every plain-C unit test binary (built by `make unit`) as a subtest.
use strict;
use warnings;
use Test::More;
use FindBin;

my $top = "$FindBin::Bin/..";
my $dir = $ENV{HOTKEY_BUILD} ? "$ENV{HOTKEY_BUILD}/unit" : "$top/build/unit";
my @bins = sort grep { -x } glob("$dir/test_*");
ok(@bins > 0, "unit test binaries exist in $dir (run make unit)");

for my $bin (@bins) {
    subtest $bin => sub {
        my @out = `$bin 2>&1`;
        my $rc = $? >> 8;
        my $seen = 0;
        for (@out) {
            chomp;
            if (/^(not )?ok \d+ - (.*)$/) {
                ok(!$1, $2);
                $seen++;
            } elsif (/^#/) {
                diag($_);
            }
        }
        ok($seen > 0, "ran some checks");
        is($rc, 0, "exit status");
    };
}

done_testing();
