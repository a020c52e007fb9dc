import { join } from "node:path";
import { repoRoot } from "../../../src/testing/server.ts";
import { startPythonWorker, type PythonWorker } from "./python-worker.ts";

/** The reference Python insights worker (examples/insights-worker) running as a child process. */
export type InsightsWorker = PythonWorker;

export function startInsightsWorker(python: string, stubs: string, port: number, workerId: string, extra: string[] = [], token = ""): Promise<InsightsWorker> {
  return startPythonWorker(`insights worker ${workerId}`, [python, "-u", join(repoRoot, "examples/insights-worker/worker.py"), `127.0.0.1:${port}`, stubs, workerId, ...extra], {
    ...process.env,
    SWITCHYARD_API_TOKEN: token,
  });
}
