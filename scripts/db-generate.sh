#!/usr/bin/env bash
# Generates pending drizzle migrations for every domain that owns tables, for both dialects:
# src/<domain>/drizzle.config.ts (SQLite, migrations/) and drizzle.pg.config.ts (PostgreSQL, migrations-pg/).
set -euo pipefail
cd "$(dirname "$0")/.."
for config in src/*/drizzle.config.ts src/*/drizzle.pg.config.ts; do
  [ -f "$config" ] || continue
  node_modules/.bin/drizzle-kit generate --config "$config"
done
