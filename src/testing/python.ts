import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./server.ts";

/** The venv's python, after making sure the venv and the stubs generated from proto/ exist. */
export async function preparePython(): Promise<{ python: string; stubs: string }> {
  const setup = Bun.spawnSync(["bash", join(repoRoot, "scripts/setup-python.sh")], { stdout: "inherit", stderr: "inherit" });
  if (setup.exitCode !== 0) throw new Error("scripts/setup-python.sh failed");
  const python = join(repoRoot, ".venv/bin/python");
  const stubs = mkdtempSync(join(tmpdir(), "switchyard-pystubs-"));
  const gen = Bun.spawnSync([python, join(repoRoot, "test/python/gen_stubs.py"), stubs], { stderr: "pipe" });
  if (gen.exitCode !== 0) throw new Error(`stub generation failed: ${gen.stderr.toString()}`);
  return { python, stubs };
}

/** Runs a Python script and parses the JSON line it prints last. */
export async function runPython(python: string, args: string[], timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const proc = Bun.spawn([python, ...args], { stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`python ${args[0]} exited ${code}: ${err}`);
  return JSON.parse(out.trim().split("\n").pop()!);
}
