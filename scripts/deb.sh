#!/bin/sh
# Builds the Debian packages (debian/) with dpkg-buildpackage, from a copy
# of this tree in a temp folder, so the checkout stays as it is:
#   libnginx-mod-http-hotkey_<version>_<arch>.deb   the module
#   hotkey-tools_<version>_<arch>.deb               hotkeyctl
# plus the .changes and .buildinfo; the -dbgsym packages (debug symbols)
# go into dbgsym/ of the same folder.
# Usage: scripts/deb.sh [outdir]      (default: build/deb)
# Needs what scripts/deps.sh installs (nginx-dev, debhelper, ...).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build/deb}
case $out in /*) ;; *) out=$(pwd)/$out ;; esac

command -v dpkg-buildpackage >/dev/null 2>&1 \
    || { echo "deb.sh: dpkg-buildpackage not found (scripts/deps.sh installs it)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/hotkey-deb-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/src"

# the files of the tree (tracked, and new ones not ignored), or, without
# git, the tree less what builds and runs leave. From git, the version
# names the commit, and grows with the history (0.1.0+git93.1a2b3c4), so
# that installing a newer build upgrades an older one.
cd "$top"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -co --exclude-standard | while IFS= read -r f; do
        [ -e "$f" ] && printf '%s\n' "$f"
    done | tar -cf - -T - | tar -xf - -C "$work/src"
    base=$(cd "$work/src" && dpkg-parsechangelog -S Version)
    version="$base+git$(git rev-list --count HEAD).$(git rev-parse --short HEAD)"
    sed -i "1s/($base)/($version)/" "$work/src/debian/changelog"
else
    tar -cf - --exclude=./.git --exclude=./build --exclude='./build-*' \
        --exclude=./run --exclude='./t/servroot*' --exclude=./node_modules . \
        | tar -xf - -C "$work/src"
fi

echo "building the packages (log: $out/build.log)"
mkdir -p "$out"
status=0
(cd "$work/src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 || status=$?
if [ $status -ne 0 ]; then
    tail -40 "$out/build.log" >&2
    echo "deb.sh: dpkg-buildpackage failed ($status); whole log: $out/build.log" >&2
    exit 1
fi

rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo "$out"/dbgsym/*.deb
mkdir -p "$out/dbgsym"
for f in "$work"/*.deb; do
    case $f in
        *-dbgsym_*) mv "$f" "$out/dbgsym/" ;;
        *) mv "$f" "$out/" ;;
    esac
done
mv "$work"/*.changes "$work"/*.buildinfo "$out/"
ls -1 "$out"/*.deb
