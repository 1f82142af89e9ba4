# Test-only stand-in: Debian bookworm (debootstrap minbase, imported), the layer the others share.
FROM tk9-standin/rootfs:bookworm
ARG MIRROR=http://deb.debian.org/debian
ARG SECURITY=http://deb.debian.org/debian-security
# like the official images: no service starts during apt-get install, no apt caches kept
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
      "$MIRROR" "$MIRROR" "$SECURITY" > /etc/apt/sources.list \
 && rm -rf /var/cache/apt/archives/*.deb /var/lib/apt/lists/*
# The host's CA bundle, so pip, uv and npm inside a build reach the package registries from here
# (its own path: Debian's ca-certificates package, pulled in by python3-pip, rewrites the default).
COPY ca-certificates.crt /etc/ssl/host-ca-bundle.crt
ENV SSL_CERT_FILE=/etc/ssl/host-ca-bundle.crt \
    PIP_CERT=/etc/ssl/host-ca-bundle.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/host-ca-bundle.crt \
    NODE_EXTRA_CA_CERTS=/etc/ssl/host-ca-bundle.crt \
    npm_config_cafile=/etc/ssl/host-ca-bundle.crt \
    LANG=C.UTF-8
CMD ["bash"]
