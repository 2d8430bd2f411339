#!/bin/bash
# The test suite against an ASan + UBSan build of the module.
#
#   1. builds the module with HOTKEY_CC_OPT='-fsanitize=address,undefined
#      -fno-omit-frame-pointer' into build-asan/ (scripts/build.sh), and the
#      unit tests and hotkeyctl with the same flags into build-asan/ too;
#   2. runs the unit tests and then prove on t/0*.t t/1*.t t/2*.t t/3*.t with
#      HOTKEY_MODULE=build-asan/ngx_http_hotkey_module.so and
#      HOTKEY_BUILD=build-asan.  Debian's nginx is not instrumented, so the
#      sanitizer runtimes must be loaded before the module: nginx is started
#      through build-asan/nginx-asan (HOTKEY_NGINX, and NGINX for run.sh),
#      which sets LD_PRELOAD="libasan.so libubsan.so" (gcc's, as nginx's
#      configure builds the module with gcc; libasan alone leaves the
#      __ubsan_* symbols undefined and dlopen() fails), with
#      ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 (nginx's pools are still
#      allocated at exit) and UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1.
#      Only nginx gets the preload: perl, redis-server and curl do not;
#   3. fails when any test fails, or when a sanitizer said anything: every
#      report is written to build-asan/reports/ (log_path), and every nginx
#      error log the tests wrote (HOTKEY_KEEP=1 with TMPDIR pointing into
#      build-asan/) is scanned for "AddressSanitizer", "runtime error" and
#      workers that exited on a signal.
#
# Usage: scripts/sanitize.sh [t/xxx.t ...]     (default: the suite above)
# SANITIZE_FALLBACK=1: only the unit tests under the sanitizers.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
B=build-asan
out=$top/$B
san='-fsanitize=address,undefined -fno-omit-frame-pointer'
reports=$out/reports
scratch=$out/tmp

say() { printf 'sanitize: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }

scripts/deps.sh || die "deps.sh failed"
mkdir -p "$out"

# ---------------------------------------------------------------- runtimes

asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
[ -e "$asan" ] && [ "$asan" != libasan.so ] || die "no libasan.so for gcc (apt-get install libgcc-12-dev)"
[ -e "$ubsan" ] && [ "$ubsan" != libubsan.so ] || die "no libubsan.so for gcc"
asan=$(readlink -f "$asan")
ubsan=$(readlink -f "$ubsan")

# ---------------------------------------------------------------- builds

say "building the module with $san into $B/"
HOTKEY_CC_OPT="$san" scripts/build.sh "$B" || die "module build failed"

say "building the unit tests and hotkeyctl with $san into $B/"
make -s unit cli BUILD="$B" UNIT_EXTRA="$san" || die "unit/cli build failed"

rm -rf "$reports" "$scratch"
mkdir -p "$reports" "$scratch"

# the options of every instrumented program (unit tests, hotkeyctl): leaks
# count there; the nginx wrapper below has its own
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$reports/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan"

unit_fail=0
say "unit tests under ASan+UBSan"
for t in "$out"/unit/test_*; do
    [ -x "$t" ] || continue
    if ! "$t" >"$scratch/$(basename "$t").out" 2>&1; then
        say "FAIL $t"
        tail -20 "$scratch/$(basename "$t").out"
        unit_fail=1
    fi
done

if [ "${SANITIZE_FALLBACK:-0}" = 1 ]; then
    n=$(ls -A "$reports" | wc -l)
    [ "$n" = 0 ] || { say "sanitizer reports:"; head -50 "$reports"/*; }
    [ "$unit_fail" = 0 ] && [ "$n" = 0 ] && { say "unit tests clean"; exit 0; }
    exit 1
fi

# ---------------------------------------------------------------- nginx

wrapper=$out/nginx-asan
cat >"$wrapper" <<EOF
#!/bin/sh
# Debian's nginx with the gcc ASan/UBSan runtimes preloaded, for a module
# built with -fsanitize=address,undefined (written by scripts/sanitize.sh)
LD_PRELOAD="$asan $ubsan\${LD_PRELOAD:+ \$LD_PRELOAD}"
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$reports/nginx-asan"
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/nginx-ubsan"
export LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS
# NGINX (run.sh's name for this wrapper) means inherited sockets to nginx,
# and a master that does not daemonize
unset NGINX
exec /usr/sbin/nginx "\$@"
EOF
chmod +x "$wrapper"

# does the instrumented module load?
p=$scratch/probe
mkdir -p "$p/logs" "$p/conf"
cat >"$p/conf/nginx.conf" <<EOF
load_module $out/ngx_http_hotkey_module.so;
error_log $p/logs/error.log;
pid $p/logs/nginx.pid;
events {}
http {
    client_body_temp_path $p/cb; proxy_temp_path $p/px; fastcgi_temp_path $p/fc;
    uwsgi_temp_path $p/uw; scgi_temp_path $p/sc;
    server { listen 127.0.0.1:1; location /v2/ { hotkey_api on; hotkey_auth off;
             hotkey_store 127.0.0.1:6379; } }
}
EOF
if ! probe=$("$wrapper" -t -p "$p/" -c "$p/conf/nginx.conf" -e "$p/logs/error.log" 2>&1); then
    say "the ASan module does not load into $(/usr/sbin/nginx -v 2>&1):"
    printf '%s\n' "$probe"
    say "falling back to the unit tests under the sanitizers"
    exec env SANITIZE_FALLBACK=1 "$0"
fi
say "the instrumented module loads into /usr/sbin/nginx with the runtimes preloaded"

# node for t/220 (installed by test-deps.sh into \$HOTKEY_BUILD/node)
if [ -d build/node ] && [ ! -e "$B/node" ]; then
    ln -s ../build/node "$B/node"
fi

if [ $# -gt 0 ]; then
    tests=("$@")
else
    tests=()
    for f in t/0*.t t/1*.t t/2*.t t/3*.t; do
        [ -f "$f" ] && tests+=("$f")
    done
fi

say "prove ${tests[*]}"
# HOTKEY_BUILD relative: t/sdk/sign.js puts the top in front of it
HOTKEY_MODULE=$out/ngx_http_hotkey_module.so HOTKEY_BUILD=$B \
HOTKEY_NGINX=$wrapper NGINX=$wrapper HOTKEY_KEEP=1 TMPDIR=$scratch \
    prove "${tests[@]}" 2>&1 | tee "$out/prove.log" \
    | grep -v '^# HOTKEY_KEEP: prefix is'
prove_rc=${PIPESTATUS[0]}

# ---------------------------------------------------------------- reports

found=0
if [ -n "$(ls -A "$reports")" ]; then
    say "sanitizer reports in $reports:"
    for f in "$reports"/*; do
        echo "--- $f"
        head -40 "$f"
    done
    found=1
fi

# SIGKILL (9) only ever comes from a test (t/173 kills a leader on
# purpose); a crash is SIGSEGV, SIGBUS, SIGABRT (abort_on_error) and the like
found_re='AddressSanitizer|LeakSanitizer|runtime error|exited on signal ([0-8]|[1-9][0-9])([^0-9]|$)'
logs=$(find "$scratch" -name '*.log' -path '*logs*' 2>/dev/null)
nlogs=$(printf '%s\n' "$logs" | grep -c . || true)
hits=$(printf '%s\n' "$logs" | xargs -r grep -l -E "$found_re" 2>/dev/null)
if [ -n "$hits" ]; then
    say "sanitizer output or crashed workers in the error logs:"
    for f in $hits; do
        echo "--- $f"
        grep -E -B2 -A20 "$found_re" "$f" | head -60
    done
    found=1
fi
say "scanned $nlogs log files of the test prefixes"

if [ "$found" = 0 ]; then
    # the prefixes are only kept for the scan
    rm -rf "$scratch"
fi

[ "$unit_fail" = 0 ] || say "unit tests FAILED under the sanitizers"
[ "$prove_rc" = 0 ] || say "prove FAILED (rc $prove_rc; log in $B/prove.log)"
[ "$found" = 0 ] || say "sanitizer findings (see above)"
if [ "$unit_fail" = 0 ] && [ "$prove_rc" = 0 ] && [ "$found" = 0 ]; then
    say "clean: no sanitizer reports, all tests pass"
    exit 0
fi
exit 1
