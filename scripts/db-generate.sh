#!/usr/bin/env bash
# Generates pending drizzle migrations for every domain that owns tables (src/<domain>/drizzle.config.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
for config in src/*/drizzle.config.ts; do
  node_modules/.bin/drizzle-kit generate --config "$config"
done
