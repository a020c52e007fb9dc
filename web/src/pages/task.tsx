import { useState } from "react";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { toJson } from "@bufbuild/protobuf";
import { ValueSchema, timestampDate } from "@bufbuild/protobuf/wkt";
import { TaskService } from "../../../gen/switchyard/tasks/v1/tasks_service_pb.ts";
import { TaskEventKind, TaskState, type Task, type TaskEvent } from "../../../gen/switchyard/tasks/v1/tasks_pb.ts";
import { client } from "../transport.ts";
import { useStream } from "../live.ts";
import { Card, ErrorBox, Json, Live, Page, StateBadge, durationOf, time } from "../ui.tsx";
import { href, navigate } from "../router.ts";

const TERMINAL = new Set([TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED, TaskState.TIMED_OUT]);

export function TaskPage({ id }: { id: string }) {
  const qc = useQueryClient();
  const got = useQuery(TaskService.method.getTask, { id });
  const [events, setEvents] = useState<TaskEvent[]>([]);
  const [latest, setLatest] = useState<Task | undefined>();
  const stream = useStream(
    async function* (signal) {
      for await (const m of client(TaskService).watchTaskEvents({ taskIds: [id] }, { signal })) {
        if (m.event) {
          setEvents((prev) => [...prev, m.event!].slice(-200));
          if (m.event.task) setLatest(m.event.task);
        }
        yield m;
      }
    },
    [id],
  );
  const after = () => void qc.invalidateQueries();
  const retry = useMutation(TaskService.method.retryTask, { onSuccess: (r) => (setLatest(r.task), after()) });
  const cancel = useMutation(TaskService.method.cancelTask, { onSuccess: (r) => (setLatest(r.task), after()) });
  const remove = useMutation(TaskService.method.deleteTask, { onSuccess: () => navigate("tasks") });
  const task = latest ?? got.data?.task;

  return (
    <Page title={`Task ${id}`} actions={<Live state={stream.state} error={stream.error} />}>
      <ErrorBox error={got.error ?? retry.error ?? cancel.error ?? remove.error} what="This task" />
      {task && (
        <>
          <p className="actions-row">
            <StateBadge state={TaskState[task.state]} />{" "}
            <button type="button" disabled={!TERMINAL.has(task.state)} onClick={() => retry.mutate({ id })}>
              Retry
            </button>{" "}
            <button type="button" disabled={TERMINAL.has(task.state)} onClick={() => cancel.mutate({ id, reason: "cancelled from the dashboard" })}>
              Cancel
            </button>{" "}
            <button
              type="button"
              className="danger"
              onClick={() => {
                if (window.confirm(`Delete task ${id}?`)) remove.mutate({ id });
              }}
            >
              Delete
            </button>
          </p>
          <div className="grid">
            <Card title="Task">
              <dl className="facts">
                <dt>queue</dt>
                <dd>
                  <a href={href("queues", task.queue)}>{task.queue}</a>
                </dd>
                <dt>type</dt>
                <dd>{task.type || "—"}</dd>
                <dt>priority</dt>
                <dd>{task.priority ?? 0}</dd>
                <dt>attempts</dt>
                <dd>
                  {task.attempt} of {task.maxAttempts ?? "—"}
                </dd>
                <dt>worker</dt>
                <dd>{task.workerId || task.serverId || "—"}</dd>
                <dt>progress</dt>
                <dd>
                  {task.progress} % {task.progressMessage}
                </dd>
                <dt>capabilities</dt>
                <dd>{task.requiredCapabilities.join(", ") || "—"}</dd>
                <dt>timeout</dt>
                <dd>{durationOf(task.timeout)}</dd>
                <dt>created</dt>
                <dd>{time(task.createTime)}</dd>
                <dt>started</dt>
                <dd>{time(task.startTime)}</dd>
                <dt>finished</dt>
                <dd>{time(task.finishTime)}</dd>
              </dl>
            </Card>
            <Card title="Lease">
              {task.lease ? (
                <dl className="facts">
                  <dt>holder</dt>
                  <dd>{task.lease.workerId}</dd>
                  <dt>fencing token</dt>
                  <dd>{String(task.lease.fencingToken)}</dd>
                  <dt>expires</dt>
                  <dd>{time(task.lease.expireTime)}</dd>
                </dl>
              ) : (
                <p className="muted">No lease: nobody holds this task.</p>
              )}
            </Card>
            <Card title="Dependencies">
              <DependencyGraph task={task} />
            </Card>
            <Card title="Payload" wide>
              <Json value={task.payload ? toJson(ValueSchema, task.payload) : undefined} />
            </Card>
            <Card title="Result">
              <Json value={task.result ? toJson(ValueSchema, task.result) : undefined} />
            </Card>
            <Card title="Error">
              {task.error ? (
                <p className="error-text">
                  {task.error.reason && <code>{task.error.reason}</code>} {task.error.message} {task.error.retryable ? "(retryable)" : ""}
                </p>
              ) : (
                <p className="muted">—</p>
              )}
            </Card>
            <Card title="Timeline" wide>
              <ol className="timeline" aria-label="task events">
                <li>
                  <time>{time(task.createTime)}</time> created
                </li>
                {task.startTime && (
                  <li>
                    <time>{time(task.startTime)}</time> first started
                  </li>
                )}
                {events.map((e) => (
                  <li key={String(e.sequence)} data-kind={TaskEventKind[e.kind].toLowerCase()}>
                    <time>{e.time ? timestampDate(e.time).toLocaleTimeString() : ""}</time> {TaskEventKind[e.kind].toLowerCase().replace("_", " ")}
                    {e.previousState ? <span className="muted"> (was {TaskState[e.previousState].toLowerCase()})</span> : null}
                  </li>
                ))}
              </ol>
              {events.length === 0 && <p className="muted">Events of this task appear here live as they happen.</p>}
            </Card>
          </div>
        </>
      )}
    </Page>
  );
}

/** The task and the tasks it waits for, as a small left-to-right graph. */
function DependencyGraph({ task }: { task: Task }) {
  const deps = task.dependsOn;
  if (deps.length === 0) return <p className="muted">This task depends on nothing.</p>;
  const rowH = 34;
  const h = Math.max(deps.length * rowH, rowH) + 10;
  const ty = h / 2;
  return (
    <svg className="graph" viewBox={`0 0 420 ${h}`} role="img" aria-label={`depends on ${deps.join(", ")}`}>
      {deps.map((d, i) => {
        const y = 5 + i * rowH + rowH / 2;
        return (
          <g key={d}>
            <line x1={170} y1={y} x2={250} y2={ty} className="edge" />
            <a href={href("tasks", d)}>
              <rect x={4} y={y - 12} width={166} height={24} rx={5} className="node" />
              <text x={10} y={y + 4}>
                {d.length > 24 ? d.slice(0, 23) + "…" : d}
              </text>
            </a>
          </g>
        );
      })}
      <rect x={250} y={ty - 12} width={166} height={24} rx={5} className="node self" />
      <text x={256} y={ty + 4}>
        {task.id.length > 24 ? task.id.slice(0, 23) + "…" : task.id}
      </text>
    </svg>
  );
}
