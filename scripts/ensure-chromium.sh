#!/bin/sh
# Installs Chromium (Debian's package) when none is present, for the browser tests (the dashboard,
# the device flow's verification page) driven by playwright-core. Idempotent.
set -eu
for c in chromium chromium-browser google-chrome; do
  if command -v "$c" >/dev/null 2>&1; then
    echo "chromium present: $(command -v "$c")"
    exit 0
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium
echo "chromium installed"
