#!/usr/bin/env bash
# Puts `switchyard` on the PATH: a small wrapper in DIR (default ~/.local/bin) that runs this
# checkout's cli/src/main.ts with Bun, or, with --compile, a single-file executable built by
# `bun build --compile`. Idempotent.  Usage: scripts/install-cli.sh [--compile] [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
compile=0
if [ "${1:-}" = "--compile" ]; then compile=1; shift; fi
dir="${1:-$HOME/.local/bin}"
mkdir -p "$dir"
if ! command -v bun >/dev/null 2>&1; then
  # As scripts/run.sh does: Bun from the npm registry into .tools/ when it is missing.
  if [ ! -x .tools/bin/bun ]; then
    npm install --silent --no-audit --no-fund --global --prefix .tools "bun@1.4.5" >&2
  fi
  export PATH="$PWD/.tools/bin:$PATH"
fi
if [ ! -d node_modules ]; then bun install --frozen-lockfile >&2; fi
if [ "$compile" = 1 ]; then
  bun build --compile cli/src/main.ts --outfile "$dir/switchyard" >&2
else
  bun_path="$(command -v bun)"
  cat > "$dir/switchyard" <<WRAPPER
#!/usr/bin/env sh
exec "$bun_path" "$PWD/cli/src/main.ts" "\$@"
WRAPPER
  chmod +x "$dir/switchyard"
fi
echo "installed $dir/switchyard" >&2
case ":$PATH:" in *":$dir:"*) ;; *) echo "add $dir to your PATH: export PATH=\"$dir:\$PATH\"" >&2 ;; esac
