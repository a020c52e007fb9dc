import { useMemo, useRef, useState } from "react";
import { useQuery } from "@connectrpc/connect-query";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { SystemService, HealthStatus, type Health } from "../../../gen/switchyard/system/v1/system_service_pb.ts";
import { TaskService } from "../../../gen/switchyard/tasks/v1/tasks_service_pb.ts";
import { QueueService } from "../../../gen/switchyard/tasks/v1/queues_service_pb.ts";
import { TaskEventKind } from "../../../gen/switchyard/tasks/v1/tasks_pb.ts";
import { client } from "../transport.ts";
import { useStream } from "../live.ts";
import { TimeChart } from "../chart.tsx";
import { Card, Empty, ErrorBox, Live, Page, durationOf, duration } from "../ui.tsx";
import { href } from "../router.ts";

const WINDOW = 60; // buckets of 5 s: five minutes of live history
const BUCKET_MS = 5000;

interface Buckets {
  start: number;
  created: number[];
  succeeded: number[];
  failed: number[];
  latency: number[];
}

function emptyBuckets(now: number): Buckets {
  const start = Math.floor(now / BUCKET_MS) * BUCKET_MS - (WINDOW - 1) * BUCKET_MS;
  const zeros = () => new Array<number>(WINDOW).fill(0);
  return { start, created: zeros(), succeeded: zeros(), failed: zeros(), latency: zeros() };
}

/** Slides the window so that `now` falls in its last bucket. */
function advance(b: Buckets, now: number): Buckets {
  const want = Math.floor(now / BUCKET_MS) * BUCKET_MS - (WINDOW - 1) * BUCKET_MS;
  const shift = Math.round((want - b.start) / BUCKET_MS);
  if (shift <= 0) return b;
  const move = (a: number[]) => (shift >= WINDOW ? new Array<number>(WINDOW).fill(0) : [...a.slice(shift), ...new Array<number>(shift).fill(0)]);
  return { start: want, created: move(b.created), succeeded: move(b.succeeded), failed: move(b.failed), latency: move(b.latency) };
}

export function Overview() {
  const [health, setHealth] = useState<Health | undefined>();
  const healthStream = useStream(async function* (signal) {
    for await (const m of client(SystemService).watchHealth({}, { signal })) {
      setHealth(m.health);
      yield m;
    }
  }, []);
  const stats = useQuery(TaskService.method.getTaskStats, {}, { refetchInterval: 5000 });
  const queues = useQuery(QueueService.method.listQueues, { pageSize: 100 }, { refetchInterval: 5000 });
  const hourly = useQuery(TaskService.method.getHourlyTaskStats, {}, { refetchInterval: 30_000 });
  const hourlyX = useMemo(() => {
    const day = hourly.data?.date ? Date.parse(`${hourly.data.date}T00:00:00Z`) : Date.now();
    return (hourly.data?.hours ?? []).map((h) => (day + h.hour * 3_600_000) / 1000);
  }, [hourly.data]);
  const hourlySeries = useMemo(
    () => [
      { label: "created", color: "#3b82f6", values: (hourly.data?.hours ?? []).map((h) => Number(h.created)) },
      { label: "succeeded", color: "#16a34a", values: (hourly.data?.hours ?? []).map((h) => Number(h.completed)) },
      { label: "failed", color: "#dc2626", values: (hourly.data?.hours ?? []).map((h) => Number(h.failed)) },
    ],
    [hourly.data],
  );

  const [buckets, setBuckets] = useState(() => emptyBuckets(Date.now()));
  const createdAt = useRef(new Map<string, number>());
  const latencies = useRef<number[]>([]);
  const [dispatch, setDispatch] = useState<{ p50: number; p99: number; n: number }>({ p50: NaN, p99: NaN, n: 0 });
  const events = useStream(async function* (signal) {
    const tick = setInterval(() => setBuckets((b) => advance(b, Date.now())), 1000);
    try {
      for await (const m of client(TaskService).watchTaskEvents({}, { signal })) {
        const e = m.event;
        if (!e?.task) continue;
        const t = e.time ? timestampMs(e.time) : Date.now();
        setBuckets((b0) => {
          const b = advance(b0, Date.now());
          const i = Math.floor((t - b.start) / BUCKET_MS);
          if (i < 0 || i >= WINDOW) return b;
          const next = { ...b };
          if (e.kind === TaskEventKind.CREATED) (next.created = [...b.created])[i]!++;
          if (e.kind === TaskEventKind.SUCCEEDED) (next.succeeded = [...b.succeeded])[i]!++;
          if (e.kind === TaskEventKind.FAILED || e.kind === TaskEventKind.TIMED_OUT) (next.failed = [...b.failed])[i]!++;
          return next;
        });
        // Dispatch latency as the server's clock saw it: creation (or unblocking) to claim.
        if (e.kind === TaskEventKind.CREATED || e.kind === TaskEventKind.UNBLOCKED) createdAt.current.set(e.task.id, t);
        if (e.kind === TaskEventKind.CLAIMED) {
          const c = createdAt.current.get(e.task.id);
          if (c !== undefined) {
            createdAt.current.delete(e.task.id);
            const l = latencies.current;
            l.push(t - c);
            if (l.length > 2000) l.splice(0, l.length - 2000);
            const sorted = [...l].sort((a, b) => a - b);
            setDispatch({ p50: sorted[Math.floor(sorted.length * 0.5)]!, p99: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!, n: sorted.length });
          }
        }
        if (createdAt.current.size > 10_000) createdAt.current.clear();
        yield m;
      }
    } finally {
      clearInterval(tick);
    }
  }, []);

  const x = useMemo(() => buckets.created.map((_, i) => (buckets.start + i * BUCKET_MS) / 1000), [buckets.start, buckets.created]);
  const throughput = useMemo(
    () => [
      { label: "created /5 s", color: "#3b82f6", values: buckets.created },
      { label: "succeeded /5 s", color: "#16a34a", values: buckets.succeeded },
      { label: "failed /5 s", color: "#dc2626", values: buckets.failed },
    ],
    [buckets],
  );
  const failRate = useMemo(
    () => [{ label: "failure rate %", color: "#dc2626", values: buckets.failed.map((f, i) => (f + buckets.succeeded[i]! > 0 ? (100 * f) / (f + buckets.succeeded[i]!) : 0)) }],
    [buckets],
  );
  const s = stats.data;
  const counts = s?.counts;

  return (
    <Page title="Overview" actions={<Live state={events.state} error={events.error} />}>
      <div className="grid">
        <Card title="Health">
          <ErrorBox error={healthStream.state === "stopped" ? healthStream.error : undefined} />
          {health ? (
            <>
              <p>
                <span className={`badge h-${HealthStatus[health.status].toLowerCase()}`}>{HealthStatus[health.status].toLowerCase()}</span>
                {health.draining && <span className="badge s-cancelled">draining</span>} <Live state={healthStream.state} />
              </p>
              <ul className="components">
                {health.components.map((c) => (
                  <li key={c.name}>
                    <strong>{c.name}</strong> <span className="muted">{c.status}</span> {c.message}
                  </li>
                ))}
              </ul>
            </>
          ) : (
            <Empty>Waiting for the first health report…</Empty>
          )}
        </Card>
        <Card title="Tasks by state (today)">
          <ErrorBox error={stats.error} />
          {counts && (
            <dl className="counts">
              {(["pending", "delayed", "blocked", "running", "succeeded", "failed", "cancelled", "timedOut"] as const).map((k) => (
                <div key={k} className={`count s-${k === "timedOut" ? "timed_out" : k}`}>
                  <dt>{k === "timedOut" ? "timed out" : k}</dt>
                  <dd>{String(counts[k])}</dd>
                </div>
              ))}
            </dl>
          )}
          {s && (
            <p className="muted">
              {String(s.totalTasks)} tasks today · average processing {durationOf(s.averageProcessingTime)} · {String(s.serverCount)} workers/servers seen
            </p>
          )}
        </Card>
        <Card title="Dispatch latency (live)">
          {dispatch.n === 0 ? (
            <Empty>No claim seen yet: latency appears when workers take tasks.</Empty>
          ) : (
            <p className="big">
              p50 {duration(dispatch.p50)} · p99 {duration(dispatch.p99)} <span className="muted">over {dispatch.n} claims</span>
            </p>
          )}
          <h3>Connected workers</h3>
          {s && s.topServers.length > 0 ? (
            <ul>
              {s.topServers.map((w) => (
                <li key={w.workerId}>
                  <code>{w.workerId}</code> — {String(w.tasksProcessed)} tasks, {(w.successRate * 100).toFixed(0)} % ok
                </li>
              ))}
            </ul>
          ) : (
            <Empty>No worker has taken a task today. Start one: see the README's worker example.</Empty>
          )}
        </Card>
        <Card title="Throughput (live)" wide>
          <TimeChart title="tasks per 5 s, last 5 minutes" x={x} series={throughput} />
        </Card>
        <Card title="Today by hour (UTC)" wide>
          <ErrorBox error={hourly.error} />
          <TimeChart title="tasks per hour" x={hourlyX} series={hourlySeries} height={180} />
        </Card>
        <Card title="Failure rate" wide>
          <TimeChart title="failed / finished, %" x={x} series={failRate} height={160} />
        </Card>
        <Card title="Queues" wide>
          <ErrorBox error={queues.error} />
          {queues.data && queues.data.queues.length === 0 && <Empty>No queue yet: create a task and its queue appears here.</Empty>}
          {queues.data && queues.data.queues.length > 0 && (
            <div className="table-wrap">
              <table aria-label="queues">
                <thead>
                  <tr>
                    <th scope="col">queue</th>
                    <th scope="col">pending</th>
                    <th scope="col">running</th>
                    <th scope="col">succeeded</th>
                    <th scope="col">failed</th>
                    <th scope="col">oldest pending</th>
                    <th scope="col">state</th>
                  </tr>
                </thead>
                <tbody>
                  {queues.data.queues.map((q) => (
                    <tr key={q.name}>
                      <td>
                        <a href={href("queues", q.name)}>{q.name}</a>
                      </td>
                      <td>{String(q.counts?.pending ?? 0n)}</td>
                      <td>{String(q.counts?.running ?? 0n)}</td>
                      <td>{String(q.counts?.succeeded ?? 0n)}</td>
                      <td>{String(q.counts?.failed ?? 0n)}</td>
                      <td>{durationOf(q.oldestPendingAge)}</td>
                      <td>{q.paused ? <span className="badge s-cancelled">paused</span> : <span className="badge s-succeeded">active</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>
      </div>
    </Page>
  );
}
