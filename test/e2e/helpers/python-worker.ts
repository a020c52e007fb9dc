/** A Python reference worker run as a child process that prints one JSON object a line. */
export interface PythonWorker {
  lines: Record<string, unknown>[];
  /** Resolves when a stdout line satisfies `pred` (seen before or later). */
  waitFor(pred: (line: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Starts `argv` and resolves once it printed a line with `connected`. */
export async function startPythonWorker(name: string, argv: string[], env: Record<string, string | undefined> = process.env): Promise<PythonWorker> {
  const proc = Bun.spawn(argv, { stdout: "pipe", stderr: "inherit", env });
  const lines: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of proc.stdout as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, i).trim();
        buffer = buffer.slice(i + 1);
        if (line) lines.push(JSON.parse(line));
        wake?.();
      }
    }
  })();
  const worker: PythonWorker = {
    lines,
    async waitFor(pred, ms = 20_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = lines.find(pred);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`${name}: no such line in ${JSON.stringify(lines)}`);
        await Promise.race([new Promise<void>((r) => (wake = r)), Bun.sleep(200)]);
      }
    },
    async stop() {
      proc.kill("SIGTERM");
      await Promise.race([proc.exited, Bun.sleep(3000)]);
      if (proc.exitCode === null) proc.kill("SIGKILL");
    },
  };
  await worker.waitFor((l) => "connected" in l);
  return worker;
}
