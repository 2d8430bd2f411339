#!/bin/sh
# Installs the Debian packages the build (`make deb` too), the gateway and
# the tests need.
# Quiet and quick when everything is already there.
set -e

PKGS="nginx nginx-dev libcjson-dev libhiredis-dev libssl-dev redis-server
      build-essential perl curl wrk clang openssl debhelper dpkg-dev"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $p"
done

if [ -n "$missing" ]; then
    echo "installing:$missing"
    if [ "$(id -u)" != 0 ]; then
        echo "run as root (or with sudo) to install:$missing" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Debian's nginx package may start a server on port 80 at install time;
# the gateway runs its own nginx, so that one is not needed.
