#!/bin/sh
# Installs PostgreSQL's server binaries (Debian's package) when no initdb is found, so the tests
# can start a real PostgreSQL in a temporary folder. Only the binaries are used: no cluster of the
# package is started (the tests run initdb and postgres themselves).
set -eu
for d in /usr/lib/postgresql/*/bin; do
  if [ -x "$d/initdb" ]; then
    echo "postgresql present: $("$d/postgres" --version)"
    exit 0
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
$SUDO apt-get update
# policy-rc.d refuses service starts inside containers; the package's own cluster is not needed.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends postgresql
for d in /usr/lib/postgresql/*/bin; do
  [ -x "$d/initdb" ] && echo "postgresql installed: $("$d/postgres" --version)" && exit 0
done
echo "postgresql was installed but no initdb was found" >&2
exit 1
