#!/usr/bin/env bash
# Installs the Debian packages the tests run for real (Redis, nginx, Caddy, Chromium, Apertium,
# iptables, poppler). Does nothing when they are already present.
set -euo pipefail
need=()
for pair in redis-server:redis-server nginx:nginx caddy:caddy chromium:chromium \
            apertium:apertium iptables:iptables pdfinfo:poppler-utils ip:iproute2; do
  bin=${pair%%:*}; pkg=${pair#*:}
  command -v "$bin" >/dev/null 2>&1 || need+=("$pkg")
done
[ -d /usr/share/apertium/modes ] && ls /usr/share/apertium/modes/eng-spa.mode >/dev/null 2>&1 \
  || need+=(apertium-eng-spa)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
