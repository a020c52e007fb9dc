#!/bin/sh
# Installs Debian's Chromium for the dashboard's browser tests when it is missing.
set -eu
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium >/dev/null
echo "chromium installed: $(chromium --version)"
