import { join } from "node:path";
import { repoRoot } from "../../../src/testing/server.ts";
import { startPythonWorker, type PythonWorker } from "./python-worker.ts";

/** The reference Python agent worker (examples/agent-worker) running as a child process. */
export type AgentWorker = PythonWorker;

export function startAgentWorker(python: string, stubs: string, port: number, workerId: string, extra: string[] = []): Promise<AgentWorker> {
  return startPythonWorker(`agent worker ${workerId}`, [python, "-u", join(repoRoot, "examples/agent-worker/worker.py"), `127.0.0.1:${port}`, stubs, workerId, ...extra]);
}
