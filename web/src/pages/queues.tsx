import { useState, type FormEvent } from "react";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { QueueService } from "../../../gen/switchyard/tasks/v1/queues_service_pb.ts";
import { QueueMode } from "../../../gen/switchyard/tasks/v1/tasks_pb.ts";
import { Card, Empty, ErrorBox, Json, Page, durationOf, time } from "../ui.tsx";
import { href } from "../router.ts";

export function Queues({ name }: { name?: string }) {
  const qc = useQueryClient();
  const refresh = () => void qc.invalidateQueries();
  const queues = useQuery(QueueService.method.listQueues, { pageSize: 200 }, { refetchInterval: 3000 });
  const configs = useQuery(QueueService.method.listQueueConfigs, { pageSize: 200 });
  const pause = useMutation(QueueService.method.pauseQueue, { onSuccess: refresh });
  const resume = useMutation(QueueService.method.resumeQueue, { onSuccess: refresh });
  const create = useMutation(QueueService.method.createQueueConfig, { onSuccess: refresh });
  const remove = useMutation(QueueService.method.deleteQueueConfig, { onSuccess: refresh });
  const reload = useMutation(QueueService.method.reloadQueueConfigs, { onSuccess: refresh });
  const [form, setForm] = useState({ name: "", priority: "0", mode: "LONG_RUNNING", concurrency: "0", attempts: "0" });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({
      config: {
        name: form.name.trim(),
        priority: Number(form.priority) || 0,
        mode: QueueMode[form.mode as keyof typeof QueueMode] ?? QueueMode.UNSPECIFIED,
        concurrencyLimit: Number(form.concurrency) || 0,
        defaultMaxAttempts: Number(form.attempts) || 0,
      },
    });
  };
  const modes = Object.keys(QueueMode).filter((k) => Number.isNaN(Number(k)) && k !== "UNSPECIFIED");
  const shown = name ? queues.data?.queues.filter((q) => q.name === name) : queues.data?.queues;

  return (
    <Page title={name ? `Queue ${name}` : "Queues"} actions={name ? <a href={href("queues")}>All queues</a> : undefined}>
      <ErrorBox error={queues.error ?? pause.error ?? resume.error} />
      {queues.data && queues.data.queues.length === 0 && <Empty>No queue yet. A queue appears when a task is created in it or a config names it.</Empty>}
      <div className="table-wrap">
        <table aria-label="queues">
          <thead>
            <tr>
              <th scope="col">queue</th>
              <th scope="col">pending</th>
              <th scope="col">delayed</th>
              <th scope="col">blocked</th>
              <th scope="col">running</th>
              <th scope="col">succeeded</th>
              <th scope="col">failed</th>
              <th scope="col">oldest pending</th>
              <th scope="col">state</th>
              <th scope="col">
                <span className="sr-only">actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {shown?.map((q) => (
              <tr key={q.name} data-queue={q.name}>
                <td>
                  <a href={href("tasks") + `?queue=${encodeURIComponent(q.name)}`}>{q.name}</a>
                </td>
                <td>{String(q.counts?.pending ?? 0n)}</td>
                <td>{String(q.counts?.delayed ?? 0n)}</td>
                <td>{String(q.counts?.blocked ?? 0n)}</td>
                <td>{String(q.counts?.running ?? 0n)}</td>
                <td>{String(q.counts?.succeeded ?? 0n)}</td>
                <td>{String(q.counts?.failed ?? 0n)}</td>
                <td>{durationOf(q.oldestPendingAge)}</td>
                <td>{q.paused ? <span className="badge s-cancelled">paused</span> : <span className="badge s-succeeded">active</span>}</td>
                <td>
                  {q.paused ? (
                    <button type="button" onClick={() => resume.mutate({ name: q.name })} aria-label={`resume ${q.name}`}>
                      Resume
                    </button>
                  ) : (
                    <button type="button" onClick={() => pause.mutate({ name: q.name })} aria-label={`pause ${q.name}`}>
                      Pause
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <div className="grid">
        <Card title="Queue configs" wide>
          <ErrorBox error={configs.error ?? remove.error ?? reload.error} />
          <p>
            <button type="button" onClick={() => reload.mutate({})}>
              Reload from YAML
            </button>{" "}
            {reload.data && (
              <span className="muted">
                reloaded: {reload.data.added.length} added, {reload.data.updated.length} updated, {reload.data.removed.length} removed
              </span>
            )}
          </p>
          {configs.data && configs.data.configs.length === 0 && <Empty>No queue config. Queues work without one; a config sets priority, mode, limits.</Empty>}
          {configs.data && configs.data.configs.length > 0 && (
            <div className="table-wrap">
              <table aria-label="queue configs">
                <thead>
                  <tr>
                    <th scope="col">name</th>
                    <th scope="col">priority</th>
                    <th scope="col">mode</th>
                    <th scope="col">concurrency</th>
                    <th scope="col">max attempts</th>
                    <th scope="col">timeout</th>
                    <th scope="col">source</th>
                    <th scope="col">updated</th>
                    <th scope="col">
                      <span className="sr-only">actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {configs.data.configs.map((c) => (
                    <tr key={c.name}>
                      <td>{c.name}</td>
                      <td>{c.priority}</td>
                      <td>{QueueMode[c.mode]}</td>
                      <td>{c.concurrencyLimit || "—"}</td>
                      <td>{c.defaultMaxAttempts || "—"}</td>
                      <td>{durationOf(c.defaultTimeout)}</td>
                      <td>{c.source}</td>
                      <td>{time(c.updateTime)}</td>
                      <td>
                        <button type="button" onClick={() => remove.mutate({ name: c.name })} aria-label={`delete config ${c.name}`}>
                          Delete
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>
        <Card title="New queue config">
          <form onSubmit={submit} className="form">
            <label>
              Name <input required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
            </label>
            <label>
              Priority <input type="number" value={form.priority} onChange={(e) => setForm({ ...form, priority: e.target.value })} />
            </label>
            <label>
              Mode
              <select value={form.mode} onChange={(e) => setForm({ ...form, mode: e.target.value })}>
                {modes.map((m) => (
                  <option key={m}>{m}</option>
                ))}
              </select>
            </label>
            <label>
              Concurrency limit <input type="number" min="0" value={form.concurrency} onChange={(e) => setForm({ ...form, concurrency: e.target.value })} />
            </label>
            <label>
              Max attempts <input type="number" min="0" value={form.attempts} onChange={(e) => setForm({ ...form, attempts: e.target.value })} />
            </label>
            <button type="submit" disabled={create.isPending}>
              Create
            </button>
            <ErrorBox error={create.error} />
            {create.data && <Json value={{ created: create.data.config?.name }} />}
          </form>
        </Card>
      </div>
    </Page>
  );
}
