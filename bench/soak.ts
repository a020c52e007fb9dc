// Soak: a real server process under mixed load on every domain served (tasks created, pushed to a
// worker stream and completed; mail published to a live subscriber; file leases acquired and
// released; REST reads and lists) for SOAK_MINUTES (default 10). Every 10 s it samples the
// server's RSS and open file descriptors (/proc) and its event-loop delay (its own metric), then
// fits a line through the second half of the run: a leak shows as a slope, not as a crash.
import { readdirSync, readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TaskService } from "../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { MailService } from "../gen/switchyard/mail/v1/mail_service_pb.js";
import { LeaseService } from "../gen/switchyard/mail/v1/lease_service_pb.js";
import { clientFor } from "../src/testing/clients.ts";
import { startChildServer } from "../src/testing/child-server.ts";

export interface SoakSample {
  t: number;
  rssMb: number;
  fds: number;
  loopMaxMs: number;
  loopP99Ms: number;
  tasksDone: number;
  messages: number;
  leaseOps: number;
  reads: number;
  errors: number;
}

const slope = (xs: number[], ys: number[]) => {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
};

export async function soakBench(minutes = Number(process.env.SOAK_MINUTES ?? 10)): Promise<{ samples: SoakSample[]; rssSlopeMbPerMin: number; fdSlopePerMin: number; minutes: number }> {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-soak-"));
  const s = await startChildServer(dir);
  const pid = s.proc.pid;
  const tasks = clientFor(TaskService, s.url, "grpc");
  const mail = clientFor(MailService, s.url, "grpc");
  const leases = clientFor(LeaseService, s.url, "grpc");
  const end = Date.now() + minutes * 60_000;
  const counts = { tasksDone: 0, messages: 0, leaseOps: 0, reads: 0, errors: 0 };
  const stop = new AbortController();
  const loops: Promise<void>[] = [];
  const forever = (fn: () => Promise<void>) =>
    loops.push(
      (async () => {
        while (Date.now() < end && !stop.signal.aborted) {
          try {
            await fn();
          } catch {
            counts.errors++;
            await Bun.sleep(50);
          }
        }
      })(),
    );
  // A worker stream completing everything it is given.
  loops.push(
    (async () => {
      while (Date.now() < end) {
        try {
          for await (const m of tasks.connectWorker({ workerId: "soak", queues: ["soak"], credits: 64 }, { signal: stop.signal })) {
            if (m.message.case !== "assigned") continue;
            const { task, lease } = m.message.value;
            await tasks.completeTask({ id: task!.id, fencingToken: lease!.fencingToken });
            counts.tasksDone++;
            if (Date.now() >= end) break;
          }
        } catch {
          if (Date.now() >= end) break;
          counts.errors++;
          await Bun.sleep(100);
        }
      }
    })(),
  );
  // A live mail subscriber.
  loops.push(
    (async () => {
      try {
        for await (const _ of mail.subscribe({ topic: "soak.>" }, { signal: stop.signal })) counts.messages++;
      } catch {
        // ends with the run
      }
    })(),
  );
  forever(async () => {
    await tasks.batchCreateTasks({ requests: Array.from({ length: 20 }, (_, i) => ({ task: { queue: "soak", payload: { kind: { case: "numberValue", value: i } } } })) });
    await Bun.sleep(20);
  });
  forever(async () => {
    await mail.publish({ destination: { case: "topic", value: "soak.events" }, sender: "soak", payload: { kind: { case: "stringValue", value: "x".repeat(200) } } });
  });
  forever(async () => {
    const path = `/repo/file-${Math.floor(Math.random() * 50)}.ts`;
    const got = await leases.acquireLease({ path, holder: "soak", ttl: { seconds: 30n, nanos: 0 } }).catch(() => undefined);
    if (got?.lease) await leases.releaseLease({ path, fencingToken: got.lease.fencingToken });
    counts.leaseOps++;
  });
  forever(async () => {
    await fetch(`${s.url}/v1/tasks?page_size=50`).then((r) => r.arrayBuffer());
    await fetch(`${s.url}/v1/system/health`).then((r) => r.arrayBuffer());
    counts.reads += 2;
  });

  const samples: SoakSample[] = [];
  const t0 = Date.now();
  while (Date.now() < end) {
    await Bun.sleep(Math.min(10_000, Math.max(0, end - Date.now())));
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const prom = await (await fetch(`${s.url}/metrics/prometheus`)).text();
    const loop = (q: string) => Number(new RegExp(`switchyard_event_loop_delay_seconds\\{quantile="${q.replace(".", "\\.")}"\\} ([\\d.e+-]+)`).exec(prom)?.[1] ?? NaN) * 1000;
    samples.push({ t: (Date.now() - t0) / 1000, rssMb: rssKb / 1024, fds: readdirSync(`/proc/${pid}/fd`).length, loopMaxMs: loop("max"), loopP99Ms: loop("0.99"), ...counts });
    console.error(`soak ${samples.at(-1)!.t.toFixed(0)} s: rss ${(rssKb / 1024).toFixed(1)} MB, fds ${samples.at(-1)!.fds}, loop max ${loop("max").toFixed(1)} ms, tasks ${counts.tasksDone}`);
  }
  stop.abort();
  await Promise.allSettled(loops);
  await s.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
  const half = samples.slice(Math.floor(samples.length / 2));
  return {
    samples,
    minutes,
    rssSlopeMbPerMin: slope(half.map((x) => x.t / 60), half.map((x) => x.rssMb)),
    fdSlopePerMin: slope(half.map((x) => x.t / 60), half.map((x) => x.fds)),
  };
}
