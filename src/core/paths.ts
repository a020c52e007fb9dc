import { join } from "node:path";

/**
 * The installation's root: the directory holding `src/` (migrations, the checkpoint worker),
 * `gen/` (the OpenAPI document) and `web/dist/`. Run from source this file is
 * `<root>/src/core/paths.ts`; in the production bundle (`bun run build` → `<root>/dist/main.js`)
 * every module shares the bundle's location, one level below the root.
 */
export const ROOT = import.meta.path.endsWith(join("src", "core", "paths.ts")) ? join(import.meta.dir, "..", "..") : join(import.meta.dir, "..");

/** `<root>/src`: each domain's migrations folders are read from here at runtime. */
export const SRC_DIR = join(ROOT, "src");
