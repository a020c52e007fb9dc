#!/usr/bin/env bun
// `switchyard` — the command line. Run from the repository as `bun run cli -- <command>` or
// `bun cli/src/main.ts <command>`; `bun build --compile cli/src/main.ts --outfile switchyard` makes
// one executable file (see cli/README.md).
import { run } from "./program.ts";

const code = await run(process.argv.slice(2));
// Streams and HTTP/2 sessions may hold the event loop: leave once the command is done.
process.exit(code);
