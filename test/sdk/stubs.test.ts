// The stubs each SDK ships are generated from proto/ and committed; they must match what their
// generator writes now, so a proto change without regenerating them fails here (run
// `.venv/bin/python sdk/python/generate.py`, `cd sdk/typescript && bun run generate`,
// `bash sdk/go/generate.sh`).
import { afterAll, describe, expect, it } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { preparePython } from "../../src/testing/python.ts";
import { repoRoot } from "../../src/testing/server.ts";

const tmp = mkdtempSync(join(tmpdir(), "switchyard-stubs-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function tree(dir: string, skip = (_: string) => false): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) {
        if (name !== "__pycache__") walk(p);
      } else if (!skip(name)) out[relative(dir, p)] = readFileSync(p, "utf8");
    }
  };
  walk(dir);
  return out;
}

function run(cmd: string[], cwd = repoRoot) {
  const r = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
}

describe("SDK stubs", () => {
  it("TypeScript: sdk/typescript/src/gen is what buf generate writes from proto/", () => {
    run(["node_modules/.bin/buf", "generate", "--template", "sdk/typescript/buf.gen.yaml", "-o", join(tmp, "ts")]);
    expect(tree(join(tmp, "ts/sdk/typescript/src/gen"))).toEqual(tree(join(repoRoot, "sdk/typescript/src/gen")));
  }, 30_000);

  it("Python: sdk/python/src/switchyard_sdk/_proto is what generate.py writes from proto/", async () => {
    const { python } = await preparePython();
    run([python, "sdk/python/generate.py", join(tmp, "py")]);
    expect(tree(join(tmp, "py"))).toEqual(tree(join(repoRoot, "sdk/python/src/switchyard_sdk/_proto")));
  }, 120_000);

  it("Go: sdk/go/gen is what protoc-gen-go and protoc-gen-connect-go write from proto/", () => {
    run(["bash", "sdk/go/generate.sh", join(tmp, "go")]);
    expect(tree(join(tmp, "go/sdk/go/gen"))).toEqual(tree(join(repoRoot, "sdk/go/gen")));
  }, 120_000);
});
