import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { TaskService } from "../../../gen/switchyard/tasks/v1/tasks_service_pb.ts";
import { TaskState, type Task } from "../../../gen/switchyard/tasks/v1/tasks_pb.ts";
import { client } from "../transport.ts";
import { useStream } from "../live.ts";
import { Empty, ErrorBox, Live, Page, Pager, StateBadge, ago } from "../ui.tsx";
import { href, useHashQuery } from "../router.ts";

const STATES = [TaskState.PENDING, TaskState.BLOCKED, TaskState.RUNNING, TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED, TaskState.TIMED_OUT];
const PAGE = 50;

export function Tasks() {
  const hq = useHashQuery();
  const [filter, setFilter] = useState(() => ({
    queue: hq.get("queue") ?? "",
    state: hq.get("state") ?? "",
    type: "",
    worker: "",
    capability: "",
    tag: "",
    after: "",
    before: "",
  }));
  const [draft, setDraft] = useState(filter);
  const [tokens, setTokens] = useState<string[]>([""]);
  const token = tokens[tokens.length - 1]!;
  const request = useMemo(
    () => ({
      pageSize: PAGE,
      pageToken: token,
      queues: filter.queue ? [filter.queue] : [],
      states: filter.state ? [Number(filter.state) as TaskState] : [],
      type: filter.type,
      workerId: filter.worker,
      capability: filter.capability,
      tag: filter.tag,
      createdAfter: filter.after ? timestampFromMs(Date.parse(filter.after)) : undefined,
      createdBefore: filter.before ? timestampFromMs(Date.parse(filter.before)) : undefined,
    }),
    [filter, token],
  );
  const list = useQuery(TaskService.method.listTasks, request);
  const qc = useQueryClient();

  // Live: rows change state in place; new tasks on the first page make it refetch (debounced).
  const [live, setLive] = useState(new Map<string, Task>());
  const refetch = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => setLive(new Map()), [list.data]);
  const stream = useStream(
    async function* (signal) {
      for await (const m of client(TaskService).watchTaskEvents({ queues: filter.queue ? [filter.queue] : [] }, { signal })) {
        const t = m.event?.task;
        if (t) {
          setLive((prev) => new Map(prev).set(t.id, t));
          if (token === "" && !refetch.current) {
            refetch.current = setTimeout(() => {
              refetch.current = undefined;
              void qc.invalidateQueries({ queryKey: undefined });
            }, 700);
          }
        }
        yield m;
      }
    },
    [filter.queue, token],
  );

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setFilter(draft);
    setTokens([""]);
  };
  const rows = (list.data?.tasks ?? []).map((t) => live.get(t.id) ?? t);

  return (
    <Page title="Tasks" actions={<Live state={stream.state} error={stream.error} />}>
      <form className="filters" onSubmit={apply} aria-label="task filters">
        <label>
          Queue <input value={draft.queue} onChange={(e) => setDraft({ ...draft, queue: e.target.value })} />
        </label>
        <label>
          State
          <select value={draft.state} onChange={(e) => setDraft({ ...draft, state: e.target.value })}>
            <option value="">any</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {TaskState[s].toLowerCase()}
              </option>
            ))}
          </select>
        </label>
        <label>
          Type <input value={draft.type} onChange={(e) => setDraft({ ...draft, type: e.target.value })} />
        </label>
        <label>
          Worker <input value={draft.worker} onChange={(e) => setDraft({ ...draft, worker: e.target.value })} />
        </label>
        <label>
          Capability <input value={draft.capability} onChange={(e) => setDraft({ ...draft, capability: e.target.value })} />
        </label>
        <label>
          Tag <input value={draft.tag} onChange={(e) => setDraft({ ...draft, tag: e.target.value })} />
        </label>
        <label>
          Created after <input type="datetime-local" value={draft.after} onChange={(e) => setDraft({ ...draft, after: e.target.value })} />
        </label>
        <label>
          Created before <input type="datetime-local" value={draft.before} onChange={(e) => setDraft({ ...draft, before: e.target.value })} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ErrorBox error={list.error} />
      {list.data && rows.length === 0 && <Empty>
          No task matches. Create one over any protocol, e.g. <code>{`curl -X POST localhost:8080/v1/tasks -d '{"task":{"queue":"default"}}'`}</code>
        </Empty>}
      {rows.length > 0 && (
        <div className="table-wrap">
          <table aria-label="tasks">
            <thead>
              <tr>
                <th scope="col">id</th>
                <th scope="col">queue</th>
                <th scope="col">type</th>
                <th scope="col">state</th>
                <th scope="col">attempt</th>
                <th scope="col">worker</th>
                <th scope="col">progress</th>
                <th scope="col">created</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((t) => (
                <tr key={t.id} data-task={t.id} data-state={TaskState[t.state].toLowerCase()}>
                  <td>
                    <a href={href("tasks", t.id)}>
                      <code>{t.id}</code>
                    </a>
                    {t.title && <div className="muted">{t.title}</div>}
                  </td>
                  <td>{t.queue}</td>
                  <td>{t.type || "—"}</td>
                  <td>
                    <StateBadge state={TaskState[t.state]} />
                  </td>
                  <td>
                    {t.attempt}/{t.maxAttempts ?? "—"}
                  </td>
                  <td>{t.workerId || "—"}</td>
                  <td>{t.progress ? `${t.progress} %` : "—"}</td>
                  <td>{ago(t.createTime)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager
        hasPrev={tokens.length > 1}
        hasNext={!!list.data?.nextPageToken}
        onPrev={() => setTokens(tokens.slice(0, -1))}
        onNext={() => list.data?.nextPageToken && setTokens([...tokens, list.data.nextPageToken])}
      />
    </Page>
  );
}
