#!/usr/bin/env bash
# Builds the TEST-ONLY stand-ins for the official base images in the Docker engine at
# $DOCKER_HOST (no image registry is reachable on the test machines). They are tagged
# tk9-standin/<name> and passed to the builds explicitly (build args, TK9_*_IMAGE); the
# official names are never retagged, and users build from the official images.
#
#   rootfs   debootstrap --variant=minbase bookworm from the mirror apt already uses
#   debian   + sources for updates/security, policy-rc.d, the host's CA bundle (pip/npm/uv in builds)
#   python   Debian's python3 3.11 + pip + venv           (for python:3.11-slim-bookworm)
#   node     the host's Node 20 binary + npm               (for node:20-bookworm-slim)
#   caddy / nginx / redis   Debian's packages              (for caddy:2, nginx:1.27, redis:7)
#
# Cached by content: one label on every stand-in carries a hash of this script, the stand-in
# Dockerfiles, the mirror, the Node binary and the CA bundle; nothing is rebuilt while it matches.
# The debootstrap tree is kept as a tarball in $TK9_DOCKER_CACHE (default /var/tmp/tk9-docker).
set -euo pipefail
: "${DOCKER_HOST:?set DOCKER_HOST to the socket of the test engine}"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/tests/docker/standins
CACHE=${TK9_DOCKER_CACHE:-/var/tmp/tk9-docker}
DOCKER=${DOCKER:-/usr/bin/docker}
CA=/etc/ssl/certs/ca-certificates.crt

mirror() {  # the Debian mirror apt already uses (deb822 sources first, then sources.list)
  local m
  m=$(awk '/^URIs:/ && /debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$m" ] || m=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "${m:-http://deb.debian.org/debian}"
}
MIRROR=$(mirror)
SECURITY=${MIRROR%/debian}/debian-security
NODE=$(command -v node)
NPM_DIR=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")

KEY=$( { cat "$0" "$HERE"/*.Dockerfile; echo "$MIRROR"; "$NODE" --version; \
         cat "$NPM_DIR/package.json"; sha256sum "$CA"; } | sha256sum | cut -c1-16)
is_current() { [ "$("$DOCKER" image inspect -f '{{index .Config.Labels "tk9.standin"}}' "$1" 2>/dev/null)" = "$KEY" ]; }
if is_current tk9-standin/python:3.11 && is_current tk9-standin/node:20 && is_current tk9-standin/caddy:2 \
   && is_current tk9-standin/nginx:1 && is_current tk9-standin/redis:7; then
  echo "stand-ins up to date ($KEY)"
  exit 0
fi

mkdir -p "$CACHE"
TAR=$CACHE/bookworm-minbase-$(echo "$MIRROR" | sha256sum | cut -c1-12).tar
if [ ! -s "$TAR" ]; then
  echo "debootstrap bookworm minbase from $MIRROR"
  tree=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$tree"' EXIT
  debootstrap --variant=minbase bookworm "$tree" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log"; exit 1; }
  rm -rf "$tree"/var/cache/apt/archives/*.deb "$tree"/var/lib/apt/lists/*
  tar -C "$tree" -cf "$TAR.tmp" . && mv "$TAR.tmp" "$TAR"
  rm -rf "$tree"; trap - EXIT
fi
"$DOCKER" image inspect tk9-standin/rootfs:bookworm >/dev/null 2>&1 \
  || "$DOCKER" import "$TAR" tk9-standin/rootfs:bookworm >/dev/null

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$CA" "$ctx/ca-certificates.crt"
cp "$NODE" "$ctx/node"
cp -r "$NPM_DIR" "$ctx/npm"
build() {  # name tag dockerfile
  echo "stand-in $1"
  "$DOCKER" build -q --network host --label "tk9.standin=$KEY" \
    --build-arg MIRROR="$MIRROR" --build-arg SECURITY="$SECURITY" \
    -t "tk9-standin/$1" -f "$HERE/$2.Dockerfile" "$ctx" >/dev/null
}
build debian:bookworm debian
build python:3.11 python
build node:20 node
build caddy:2 caddy
build nginx:1 nginx
build redis:7 redis
echo "stand-ins built ($KEY)"
