#!/bin/sh
# What the tests need beyond the build, installed into git-ignored
# folders of the checkout (called by `make test` before prove; the tests
# that need something call it too):
#   build/node/node_modules/@huaweicloud/huaweicloud-sdk-core
#     the official Huawei Cloud Node.js SDK core, whose AKSKSigner
#     t/220-auth-sdk.t (through t/sdk/sign.js) checks the gateway against.
# and, as root, the Debian packages:
#   lintian   t/400-debian.t checks the packages of `make deb` with it;
#   openssl   the command makes the certificates of the TLS tests
#             (t/lib/Hotkey/TLS.pm: t/460-tools-tls.t).
#   strace, libio-socket-ssl-perl   t/467-tls-attack.t: a worker slowed
#             down (strace), a TLS server that renegotiates (Perl).
# Quiet when everything is there; fails loudly when an install fails.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${HOTKEY_BUILD:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
node_dir=$build/node
sdk=$node_dir/node_modules/@huaweicloud/huaweicloud-sdk-core

# need PACKAGE CHECK...: installs PACKAGE when CHECK fails
need() {
    pkg=$1
    shift
    if ! "$@" >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "installing: $pkg"
        export DEBIAN_FRONTEND=noninteractive
        apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1 || {
            apt-get update -qq
            apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$pkg" >/dev/null
        } || { echo "test-deps.sh: apt-get install $pkg failed" >&2; exit 1; }
    fi
}

need lintian command -v lintian
need openssl command -v openssl
need strace command -v strace
need libio-socket-ssl-perl perl -MIO::Socket::SSL -e 1

if [ ! -f "$sdk/package.json" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "test-deps.sh: npm not found: cannot install @huaweicloud/huaweicloud-sdk-core" >&2
        exit 1
    fi
    mkdir -p "$node_dir"
    log=$node_dir/npm-install.log
    if ! npm install --no-audit --no-fund --prefix "$node_dir" \
            @huaweicloud/huaweicloud-sdk-core >"$log" 2>&1; then
        echo "test-deps.sh: npm install @huaweicloud/huaweicloud-sdk-core into $node_dir failed:" >&2
        cat "$log" >&2
        exit 1
    fi
    if [ ! -f "$sdk/package.json" ]; then
        echo "test-deps.sh: npm install finished but $sdk is missing:" >&2
        cat "$log" >&2
        exit 1
    fi
fi
exit 0
