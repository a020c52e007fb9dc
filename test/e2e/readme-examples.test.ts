import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { join } from "node:path";
import { repoRoot, startTestServer, type TestServer } from "../../src/testing/server.ts";

// The README's examples run as written: the Python quickstart (examples/quickstart.py, shown in
// the README) with stubs from scripts/gen-stubs.sh, and the curl lines of "Talking to it".

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const readme = () => Bun.file(join(repoRoot, "README.md")).text();

describe("the README's examples", () => {
  it("shows examples/quickstart.py as it is in the repository", async () => {
    const source = await Bun.file(join(repoRoot, "examples/quickstart.py")).text();
    expect(await readme()).toContain(source.trim());
  });

  it("the Python quickstart creates a task and one worker completes it", async () => {
    const stubs = join(server.dataDir, "stubs");
    const gen = Bun.spawn(["bash", "scripts/gen-stubs.sh", "python", stubs], { cwd: repoRoot, stderr: "pipe" });
    expect(await gen.exited).toBe(0);
    const proc = Bun.spawn([join(repoRoot, ".venv/bin/python"), "examples/quickstart.py", `127.0.0.1:${server.port}`], {
      cwd: repoRoot,
      env: { ...process.env, PYTHONPATH: stubs },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 60_000,
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (code !== 0) console.error(err);
    expect(code).toBe(0);
    expect(out).toMatch(/^created task_\S+ TASK_STATE_PENDING$/m);
    expect(out).toMatch(/^finished task_\S+ TASK_STATE_SUCCEEDED done: resize cat.png$/m);
  }, 90_000);

  it("the curl examples answer 200 in the order the README gives them", async () => {
    const text = await readme();
    const section = text.slice(text.indexOf("## Talking to it"), text.indexOf("## Configuration"));
    // Join continued lines (a trailing backslash) and run each through a shell.
    const commands = section
      .split("\n")
      .reduce<string[]>((acc, line, i, all) => (i > 0 && all[i - 1]!.trimEnd().endsWith("\\") ? [...acc.slice(0, -1), acc.at(-1)!.replace(/\\\s*$/, " ") + line.trim()] : [...acc, line]), [])
      .filter((l) => l.startsWith("curl "));
    expect(commands.length).toBeGreaterThanOrEqual(4);
    for (const command of commands) {
      const withStatus = command.replace(/localhost:8080/g, `127.0.0.1:${server.port}`).replace(/^curl /, "curl -o /dev/null -w '%{http_code}' --max-time 3 ");
      // Async: the server runs in this process, a synchronous spawn would block it.
      const run = Bun.spawn(["bash", "-c", withStatus], { stdout: "pipe", stderr: "pipe" });
      const status = (await new Response(run.stdout).text()).trim();
      await run.exited;
      // A server stream (-N) is cut by --max-time after it started answering 200.
      expect({ command, status }).toEqual({ command, status: "200" });
    }
  }, 60_000);
});
