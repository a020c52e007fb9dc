/**
 * Failpoints: named places in the write paths where a test can make the process die, fail or
 * stall at exactly that point (as SQLite's and etcd's fault tests do). Configured only from
 * `SWITCHYARD_FAILPOINTS` (`name=action;name=action`), which the configuration refuses when
 * `SWITCHYARD_ENV=production`; with none configured a failpoint costs one map lookup.
 *
 * Actions: `kill` (SIGKILL this process), `exit(N)`, `error` (throw FailpointError),
 * `delay(MS)` (stall: the synchronous form blocks the thread, as a slow fsync does), an
 * optional count prefix `N*action` (fire N times, then stay quiet) and an optional suffix
 * `@K` (let K-1 passes go by first, so a process can be killed mid-load, not at startup).
 */
export const FAILPOINTS = {
  "db.commit.before": "in the group commit, after every operation of a group ran, before its COMMIT",
  "db.commit.after": "after a group's COMMIT returned, before any of its callers is answered",
  "db.sync": "where a committed group is made durable (the fsync); `delay(MS)` simulates a slow disk",
  "blob.write.before_rename": "a blob's bytes are written and fsync'd to a temporary file, not yet renamed under their hash",
  "bus.publish.before": "a bus publish, before the engine is asked to store the message",
  "bus.publish.after": "a bus publish the engine acknowledged, before the caller is answered",
} as const;

export type FailpointName = keyof typeof FAILPOINTS;

export type FailAction =
  | { kind: "kill" }
  | { kind: "exit"; code: number }
  | { kind: "error" }
  | { kind: "delay"; ms: number };

interface Armed {
  action: FailAction;
  remaining: number;
  skip: number;
}

export class FailpointError extends Error {
  constructor(readonly failpoint: string) {
    super(`failpoint ${failpoint} fired`);
    this.name = "FailpointError";
  }
}

let armed = new Map<string, Armed>();

/** Parses `name=action;…`; throws with every problem listed. */
export function parseFailpoints(spec: string): Map<string, Armed> {
  const out = new Map<string, Armed>();
  const problems: string[] = [];
  for (const part of spec.split(/[;,]/).map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z_.]+)=(?:(\d+)\*)?(kill|error|exit\((\d+)\)|delay\((\d+)\))(?:@(\d+))?$/.exec(part);
    if (!m) {
      problems.push(`"${part}" is not name=[N*]kill|error|exit(N)|delay(MS)[@K]`);
      continue;
    }
    const name = m[1]!;
    if (!(name in FAILPOINTS)) {
      problems.push(`"${name}" is not a failpoint (known: ${Object.keys(FAILPOINTS).join(", ")})`);
      continue;
    }
    const verb = m[3]!;
    const action: FailAction = verb === "kill" ? { kind: "kill" } : verb === "error" ? { kind: "error" } : verb.startsWith("exit") ? { kind: "exit", code: Number(m[4]) } : { kind: "delay", ms: Number(m[5]) };
    out.set(name, { action, remaining: m[2] ? Number(m[2]) : Infinity, skip: m[6] ? Math.max(0, Number(m[6]) - 1) : 0 });
  }
  if (problems.length > 0) throw new Error(problems.join("; "));
  return out;
}

/** Arms the failpoints of a spec (replacing any armed before); an empty spec disarms all. */
export function configureFailpoints(spec: string | undefined): void {
  armed = spec ? parseFailpoints(spec) : new Map();
}

function take(name: FailpointName): FailAction | undefined {
  if (armed.size === 0) return undefined;
  const a = armed.get(name);
  if (!a || a.remaining <= 0) return undefined;
  if (a.skip > 0) {
    a.skip--;
    return undefined;
  }
  a.remaining--;
  return a.action;
}

function fireNow(name: string, action: FailAction): void {
  if (action.kind === "kill") {
    process.stderr.write(`failpoint ${name}: SIGKILL\n`);
    process.kill(process.pid, "SIGKILL");
  }
  if (action.kind === "exit") process.exit(action.code);
  if (action.kind === "error") throw new FailpointError(name);
}

/** A failpoint on a synchronous path (a delay blocks the thread, like a stalled fsync). */
export function failpoint(name: FailpointName): void {
  const action = take(name);
  if (!action) return;
  if (action.kind === "delay") {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, action.ms);
    return;
  }
  fireNow(name, action);
}

/** A failpoint on an asynchronous path (a delay waits without blocking the loop). */
export async function failpointAsync(name: FailpointName): Promise<void> {
  const action = take(name);
  if (!action) return;
  if (action.kind === "delay") {
    await new Promise((r) => setTimeout(r, action.ms));
    return;
  }
  fireNow(name, action);
}
