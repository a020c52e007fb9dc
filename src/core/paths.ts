import { dirname, join } from "node:path";

/** `true` in the production bundle: scripts/build-server.sh defines it (`bun build --define`). */
declare const SWITCHYARD_BUNDLED: boolean | undefined;

/**
 * The installation's root: the directory holding `src/` (migrations, the checkpoint worker),
 * `gen/` (the OpenAPI document), `web/dist/` and `node_modules/`. Run from source this file is
 * `<root>/src/core/paths.ts`. In the bundle (`<root>/dist/main.js`) Bun writes each module's
 * build-time path into `import.meta.dir` and `__dirname`, so the root is found from the file
 * actually run, and the bundle can be moved with its tree.
 */
export const ROOT =
  typeof SWITCHYARD_BUNDLED !== "undefined" && SWITCHYARD_BUNDLED ? join(dirname(require.main!.filename), "..") : join(import.meta.dir, "..", "..");

/** `<root>/src`: each domain's migrations folders are read from here at runtime. */
export const SRC_DIR = join(ROOT, "src");
