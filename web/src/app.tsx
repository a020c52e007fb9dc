import { useState, useSyncExternalStore, type FormEvent } from "react";
import { useQuery } from "@connectrpc/connect-query";
import { SystemService } from "../../gen/switchyard/system/v1/system_service_pb.ts";
import { tokenStore } from "./transport.ts";
import { href, useRoute } from "./router.ts";
import { ErrorBox } from "./ui.tsx";
import { Overview } from "./pages/overview.tsx";
import { Queues } from "./pages/queues.tsx";
import { Tasks } from "./pages/tasks.tsx";
import { TaskPage } from "./pages/task.tsx";
import { Mail } from "./pages/mail.tsx";
import { Agents, Memory, Workers, Workspaces } from "./pages/generic.tsx";

const NAV = [
  ["", "Overview"],
  ["queues", "Queues"],
  ["tasks", "Tasks"],
  ["workers", "Workers"],
  ["mail", "Mail & leases"],
  ["memory", "Memory"],
  ["workspaces", "Workspaces"],
  ["agents", "Agents"],
] as const;

export function App() {
  const route = useRoute();
  const [section = "", id] = route;
  const info = useQuery(SystemService.method.getInfo, {}, { retry: false });
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <a className="brand" href={href()}>
          Switchyard
        </a>
        <span className="muted version">{info.data ? `${info.data.version} · ${info.data.environment}` : ""}</span>
        <SignIn />
      </header>
      <nav className="nav" aria-label="sections">
        {NAV.map(([path, label]) => (
          <a key={path} href={href(...(path ? [path] : []))} aria-current={section === path ? "page" : undefined}>
            {label}
          </a>
        ))}
      </nav>
      <main id="main" tabIndex={-1}>
        <ErrorBox error={info.error} />
        {section === "" && <Overview />}
        {section === "queues" && <Queues name={id} />}
        {section === "tasks" && (id ? <TaskPage id={id} /> : <Tasks />)}
        {section === "workers" && <Workers />}
        {section === "mail" && <Mail />}
        {section === "memory" && <Memory />}
        {section === "workspaces" && <Workspaces />}
        {section === "agents" && <Agents />}
      </main>
    </div>
  );
}

/** Paste a bearer token; kept in this tab's sessionStorage, sent as a header, never in a URL. */
function SignIn() {
  const token = useSyncExternalStore(tokenStore.subscribe, tokenStore.get);
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    tokenStore.set(draft.trim());
    setDraft("");
    setOpen(false);
    window.location.reload();
  };
  if (token && !open) {
    return (
      <span className="signin">
        signed in{" "}
        <button
          type="button"
          onClick={() => {
            tokenStore.set("");
            window.location.reload();
          }}
        >
          Sign out
        </button>
      </span>
    );
  }
  return open ? (
    <form className="signin" onSubmit={submit}>
      <label>
        <span className="sr-only">API token</span>
        <input type="password" autoComplete="off" placeholder="API token" value={draft} onChange={(e) => setDraft(e.target.value)} />
      </label>
      <button type="submit">Use token</button>
    </form>
  ) : (
    <span className="signin">
      <button type="button" onClick={() => setOpen(true)}>
        Sign in
      </button>
    </span>
  );
}
