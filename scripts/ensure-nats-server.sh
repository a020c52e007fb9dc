#!/bin/sh
# Installs nats-server (Debian's package) when it is not on PATH, so the Bus contract tests can
# start a real server. Debian's 2.9.x is enough: JetStream streams and consumers work.
set -eu
if command -v nats-server >/dev/null 2>&1; then
  echo "nats-server present: $(nats-server --version)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y nats-server
echo "nats-server installed: $(nats-server --version)"
