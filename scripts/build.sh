#!/bin/bash
# Builds ngx_http_hotkey_module.so against the distribution's nginx-dev,
# with the distribution's configure flags, so that its nginx loads it.
# Usage: scripts/build.sh [builddir]      (default: build)
# HOTKEY_CC_OPT adds compiler flags (e.g. sanitizers) without dropping
# nginx's own -Werror -Wall.
set -e

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
case $build in /*) ;; *) build=$top/$build ;; esac
src=/usr/share/nginx/src

[ -f "$src/conf_flags" ] || { echo "nginx-dev is not installed" >&2; exit 1; }

mkdir -p "$build"
stamp="$build/.configured"
want="$(cat "$src/conf_flags") ${HOTKEY_CC_OPT:-} $(ls "$top"/src/*.c)"

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    (
        . "$src/conf_flags"
        cd "$src"
        unset CFLAGS
        ./configure "${NGX_CONF_FLAGS[@]}" \
            --with-cc-opt="-g -O2 -fPIC ${HOTKEY_CC_OPT:-}" \
            --add-dynamic-module="$top" --builddir="$build" >"$build/configure.log" 2>&1 \
            || { tail -30 "$build/configure.log" >&2; exit 1; }
    )
    printf '%s' "$want" >"$stamp"
fi

make -s -j"$(nproc)" -f "$build/Makefile" -C "$src" modules
echo "built $build/ngx_http_hotkey_module.so"
