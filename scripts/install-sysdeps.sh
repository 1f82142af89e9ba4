#!/usr/bin/env bash
# Installs the Debian packages the tests run for real (Redis, nginx, Caddy, Chromium, Apertium,
# iptables, poppler). Does nothing, and prints nothing, when they are already present.
#
# Apertium: every pair Debian bookworm has that translates English into another language, so
# an offline server can publish reports in Spanish, Catalan, Galician and Esperanto. Found with
# `apt-cache search apertium` and checked mode by mode with `apertium -l` and a sample sentence.
# Left out on purpose: apertium-eu-en, apertium-isl-eng, apertium-mkd-eng (into English only)
# and apertium-hbs-eng (its eng-hbs mode glosses word by word and leaves English in place).
set -euo pipefail
need=()
for pair in redis-server:redis-server nginx:nginx caddy:caddy chromium:chromium \
            apertium:apertium iptables:iptables pdfinfo:poppler-utils ip:iproute2; do
  bin=${pair%%:*}; pkg=${pair#*:}
  command -v "$bin" >/dev/null 2>&1 || need+=("$pkg")
done
# mode (as `apertium -l` names it) : package providing it
for pair in eng-spa:apertium-eng-spa eng-cat:apertium-eng-cat en-gl:apertium-en-gl \
            en-eo:apertium-eo-en; do
  mode=${pair%%:*}; pkg=${pair#*:}
  [ -f "/usr/share/apertium/modes/$mode.mode" ] || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# make docker-test: Debian's Docker engine (its own dockerd is started by the test), debootstrap
# for the test-only stand-in base images, and Debian's docker-compose 1.29 (the compose file
# must stay valid for it). Only as root: the Docker tests are skipped elsewhere.
if [ "$(id -u)" = 0 ]; then
  docker_need=()
  [ -x /usr/sbin/dockerd ] || docker_need+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || docker_need+=(debootstrap)
  [ -x /usr/bin/docker-compose ] || docker_need+=(docker-compose)
  if [ ${#docker_need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${docker_need[@]}"
  fi
fi
