import type { ReactNode } from "react";
import { timestampDate, type Timestamp, type Duration } from "@bufbuild/protobuf/wkt";
import { describeError } from "./transport.ts";
import type { StreamState } from "./live.ts";

export function Page(props: { title: string; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="page" aria-labelledby="page-title">
      <header className="page-head">
        <h1 id="page-title">{props.title}</h1>
        <div className="actions">{props.actions}</div>
      </header>
      {props.children}
    </section>
  );
}

export function Card(props: { title: string; children: ReactNode; wide?: boolean }) {
  return (
    <section className={props.wide ? "card wide" : "card"} aria-label={props.title}>
      <h2>{props.title}</h2>
      {props.children}
    </section>
  );
}

/** A server error with its reason, or the hint that the domain is not served yet. */
export function ErrorBox({ error, what }: { error: unknown; what?: string }) {
  if (!error) return null;
  const d = describeError(error);
  if (d.unimplemented) {
    return (
      <p className="notice" role="status">
        {what ?? "This part"} is not served by this Switchyard yet ({d.reason || d.code}). The page will fill in once the domain is deployed.
      </p>
    );
  }
  return (
    <div className="error" role="alert">
      <strong>{d.code}</strong> {d.reason && <code>{d.reason}</code>} {d.message}
      {d.unauthenticated && <div>Sign in with a valid token (top right).</div>}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

export function Live({ state, error }: { state: StreamState; error?: string }) {
  const label = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…", stopped: "stopped", ended: "ended" }[state];
  return (
    <span className={`live ${state}`} title={error || label} aria-live="polite">
      <span className="dot" aria-hidden="true" /> {label}
      {error && state !== "live" ? ` — ${error}` : ""}
    </span>
  );
}

export function StateBadge({ state }: { state: string }) {
  const s = state.toLowerCase().replace(/^task_state_/, "");
  return <span className={`badge s-${s}`}>{s.replace("_", " ")}</span>;
}

export function time(ts: Timestamp | undefined): string {
  if (!ts) return "—";
  return timestampDate(ts).toLocaleString();
}

export function ago(ts: Timestamp | undefined, now = Date.now()): string {
  if (!ts) return "—";
  return duration(now - timestampDate(ts).getTime()) + " ago";
}

export function duration(ms: number): string {
  if (!Number.isFinite(ms)) return "—";
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(ms)} ms`;
  if (abs < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (abs < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (abs < 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} d`;
}

export function durationOf(d: Duration | undefined): string {
  if (!d) return "—";
  return duration(Number(d.seconds) * 1000 + d.nanos / 1e6);
}

export function Json({ value }: { value: unknown }) {
  if (value === undefined || value === null) return <span className="muted">—</span>;
  return <pre className="json">{JSON.stringify(value, null, 2)}</pre>;
}

export function Pager(props: { hasPrev: boolean; hasNext: boolean; onPrev(): void; onNext(): void }) {
  return (
    <nav className="pager" aria-label="pages">
      <button type="button" disabled={!props.hasPrev} onClick={props.onPrev}>
        ← Previous
      </button>
      <button type="button" disabled={!props.hasNext} onClick={props.onNext}>
        Next →
      </button>
    </nav>
  );
}
