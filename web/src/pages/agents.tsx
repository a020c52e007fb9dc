import { useRef, useState } from "react";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { AgentSessionService } from "../../../gen/switchyard/agents/v1/agent_session_service_pb.ts";
import { SessionKind, SessionState, type SessionEvent } from "../../../gen/switchyard/agents/v1/agents_pb.ts";
import { client } from "../transport.ts";
import { useStream } from "../live.ts";
import { Card, Empty, ErrorBox, Live, Page, ago } from "../ui.tsx";
import { href } from "../router.ts";

const word = (s: string | undefined) => (s ?? "").toLowerCase().replace(/_/g, " ");

export function Agents({ sessionId }: { sessionId?: string }) {
  return sessionId ? <SessionPage id={sessionId} /> : <SessionList />;
}

function SessionList() {
  const list = useQuery(AgentSessionService.method.listSessions, { pageSize: 100 }, { retry: false, refetchInterval: 3000 });
  return (
    <Page title="Agent sessions">
      <ErrorBox error={list.error} what="Agent sessions" />
      {list.data && list.data.sessions.length === 0 && <Empty>No session yet. POST /interactive/start or a GitHub issue webhook starts one; an agent worker runs it.</Empty>}
      {list.data && list.data.sessions.length > 0 && (
        <div className="table-wrap">
          <table aria-label="agent sessions">
            <thead>
              <tr>
                <th scope="col">session</th>
                <th scope="col">kind</th>
                <th scope="col">state</th>
                <th scope="col">repository</th>
                <th scope="col">turn</th>
                <th scope="col">tokens · cost</th>
                <th scope="col">last activity</th>
              </tr>
            </thead>
            <tbody>
              {list.data.sessions.map((s) => (
                <tr key={s.id} data-session={s.id}>
                  <td>
                    <a href={href("agents", s.id)}>
                      <code>{s.id}</code>
                    </a>
                    <div className="muted">{s.prompt.slice(0, 80)}</div>
                  </td>
                  <td>{word(SessionKind[s.kind])}</td>
                  <td>{word(SessionState[s.state])}</td>
                  <td>{s.repository?.name || s.repository?.url || "—"}</td>
                  <td>{s.currentTurn}</td>
                  <td>
                    {String(s.tokensUsed)} · ${s.costUsd.toFixed(3)}
                  </td>
                  <td>{ago(s.lastActivityAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}

function describe(e: SessionEvent): string {
  const p = e.payload;
  switch (p.case) {
    case "claudeDelta":
      return p.value.content;
    case "claudeStart":
      return `turn ${p.value.turn} started`;
    case "claudeEnd":
      return `turn ${p.value.turn} ended`;
    case "fileChange":
      return `${p.value.message} ${p.value.paths.join(", ")}`;
    case "complete":
      return `complete after ${p.value.turns} turns ${p.value.pullRequestUrl}`;
    case "error":
      return `${p.value.reason} ${p.value.message}`;
    case "connected":
    case "status":
      return p.value.message;
    default:
      return "";
  }
}

function SessionPage({ id }: { id: string }) {
  const session = useQuery(AgentSessionService.method.getSession, { sessionId: id }, { retry: false, refetchInterval: 3000 });
  const end = useMutation(AgentSessionService.method.endSession, { onSuccess: () => void session.refetch() });
  const [events, setEvents] = useState<SessionEvent[]>([]);
  const lastRef = useRef(0n);
  const final = useRef(false);
  // Resumes after the last event seen: a lost stream misses nothing and repeats nothing.
  const stream = useStream(
    async function* (signal) {
      for await (const m of client(AgentSessionService).watchSession({ sessionId: id, afterSequence: lastRef.current }, { signal })) {
        const e = m.event;
        if (!e) continue;
        lastRef.current = e.sequence;
        if (e.payload.case === "complete" || e.payload.case === "error") final.current = true;
        setEvents((prev) => (prev.some((x) => x.sequence === e.sequence) ? prev : [...prev, e].slice(-1000)));
        yield m;
      }
    },
    [id],
    { ended: () => final.current },
  );
  const s = session.data?.session;
  const done = s && (s.state === SessionState.COMPLETED || s.state === SessionState.FAILED || s.state === SessionState.ENDED);
  return (
    <Page title={`Session ${id}`} actions={<Live state={stream.state} error={stream.error} />}>
      <ErrorBox error={session.error ?? end.error} what="This session" />
      {s && (
        <p className="actions-row">
          <span className="badge">{word(SessionState[s.state])}</span> turn {s.currentTurn} · {String(s.tokensUsed)} tokens · ${s.costUsd.toFixed(3)}{" "}
          <button type="button" disabled={!!done} onClick={() => end.mutate({ sessionId: id, reason: "ended from the dashboard" })}>
            End session
          </button>
        </p>
      )}
      <Card title="Events" wide>
        {events.length === 0 && <Empty>Events of the session appear here as the agent worker reports them.</Empty>}
        <ol className="timeline" aria-label="session events">
          {events.map((e) => (
            <li key={String(e.sequence)} data-kind={e.payload.case}>
              <time>{e.timestamp ? timestampDate(e.timestamp).toLocaleTimeString() : ""}</time> <strong>{e.payload.case}</strong> {describe(e)}
            </li>
          ))}
        </ol>
      </Card>
    </Page>
  );
}
