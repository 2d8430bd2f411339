#!/bin/bash
# Builds the libFuzzer targets (clang, ASan + UBSan) into build-fuzz/ and
# runs each for FUZZ_SECONDS (default 60) from a scratch copy of its seed
# corpus (fuzz/corpus/<target> stays as committed).  Exits non-zero when
# any target crashes; crash inputs are left in build-fuzz/crashes/<target>/.
#
#   FUZZ_SECONDS=600 fuzz/run.sh            all targets
#   fuzz/run.sh jwt store                   some targets
#   FUZZ_JOBS=2 ...                         libFuzzer workers per target
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=$top/build-fuzz
secs=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
# every fuzz/fuzz_<target>.c unless named
targets=${*:-$(ls fuzz/fuzz_*.c | sed 's|fuzz/fuzz_\(.*\)\.c|\1|' | tr '\n' ' ')}
CC=${FUZZ_CC:-clang}

# libFuzzer's runtime: Debian ships it in libclang-rt-<N>-dev
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n){return 0;}' \
        | $CC -x c -fsanitize=fuzzer,address,undefined -o /dev/null - 2>/dev/null
then
    ver=$($CC --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
    pkg=libclang-rt-${ver:-14}-dev
    echo "fuzz: libFuzzer runtime missing, installing $pkg"
    if [ "$(id -u)" != 0 ]; then
        echo "fuzz: run as root, or apt-get install $pkg" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                 apt-get install -y -qq "$pkg" >/dev/null; } \
        || { echo "fuzz: cannot install $pkg" >&2; exit 1; }
fi

mkdir -p "$out"
srcs=$(ls src/hotkey_*.c)
failed=""

for t in $targets; do
    echo "=== fuzz_$t: build"
    if ! $CC -g -O1 -fsanitize=fuzzer,address,undefined \
            -fno-sanitize-recover=undefined -Isrc \
            -o "$out/fuzz_$t" "fuzz/fuzz_$t.c" $srcs \
            -lcjson -lhiredis -lcrypto
    then
        failed="$failed $t(build)"
        continue
    fi

    work=$out/scratch/$t
    crashes=$out/crashes/$t
    rm -rf "$work"
    mkdir -p "$work" "$crashes"
    [ -d "fuzz/corpus/$t" ] && cp -r "fuzz/corpus/$t/." "$work/"
    dict=()
    [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")

    echo "=== fuzz_$t: ${secs}s from $(ls "$work" | wc -l) seeds"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$out/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=8192 -print_final_stats=1 -artifact_prefix="$crashes/" \
        ${jobs:+$( [ "$jobs" -gt 1 ] && echo "-jobs=$jobs -workers=$jobs")} \
        "${dict[@]}" "$work" >"$out/fuzz_$t.log" 2>&1
    rc=$?
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' \
        "$out/fuzz_$t.log" | sed "s/^/    /"
    echo "    corpus now $(ls "$work" | wc -l) files"

    if [ $rc -ne 0 ] || [ -n "$(ls -A "$crashes")" ]; then
        echo "=== fuzz_$t: FAILED (rc $rc); inputs in $crashes:"
        ls -l "$crashes" | sed 1d
        grep -E 'ERROR: |runtime error|SUMMARY' "$out/fuzz_$t.log" | head -5
        failed="$failed $t"
    else
        echo "=== fuzz_$t: ok"
    fi
done

if [ -n "$failed" ]; then
    echo "fuzz: crashes in:$failed (logs in $out/fuzz_<target>.log)"
    exit 1
fi
echo "fuzz: no crashes ($secs s per target)"
