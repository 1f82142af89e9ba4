#!/usr/bin/env bash
# make docker-test: the Docker deployment built and run for real (tests/docker, marker `docker`).
# Starts its own dockerd (host networking only), builds the test-only stand-in bases once
# (cached), builds deploy/Dockerfile and runs the compose stacks. Needs root; elsewhere it is
# skipped with the reason printed, never silently.
set -euo pipefail
cd "$(dirname "$0")/.."
skip() { echo "docker-test SKIPPED: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root to start its own dockerd"
[ -x /usr/sbin/dockerd ] || skip "Debian's docker.io is not installed (scripts/install-sysdeps.sh)"
command -v debootstrap >/dev/null || skip "debootstrap is not installed (scripts/install-sysdeps.sh)"
# one docker-test at a time per machine: the engine's data root is a shared cache
mkdir -p "${TK9_DOCKER_CACHE:-/var/tmp/tk9-docker}"
exec 9>"${TK9_DOCKER_CACHE:-/var/tmp/tk9-docker}/lock"
flock -w 1800 9 || skip "another docker-test held the lock for 30 min"
# a cold cache builds the bases and the image inside the first test: a generous per-test ceiling
${UV:-uv} run pytest -q -p no:cacheprovider -rs --timeout 1800 -m docker tests/docker "$@"
