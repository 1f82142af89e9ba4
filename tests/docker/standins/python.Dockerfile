# Test-only stand-in for python:3.11-slim-bookworm: Debian's Python 3.11 with pip and venv.
FROM tk9-standin/debian:bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-pip python3-venv \
 && rm -rf /var/lib/apt/lists/* /usr/lib/python3.11/EXTERNALLY-MANAGED \
 && ln -s /usr/bin/python3 /usr/local/bin/python
CMD ["python3"]
