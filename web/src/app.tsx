import { useState, useSyncExternalStore, type FormEvent } from "react";
import { useQuery } from "@connectrpc/connect-query";
import { SystemService } from "../../gen/switchyard/system/v1/system_service_pb.ts";
import { AuthService } from "../../gen/switchyard/auth/v1/auth_service_pb.ts";
import { client, describeError, tokenStore } from "./transport.ts";
import { href, useRoute } from "./router.ts";
import { ErrorBox } from "./ui.tsx";
import { Overview } from "./pages/overview.tsx";
import { Queues } from "./pages/queues.tsx";
import { Tasks } from "./pages/tasks.tsx";
import { TaskPage } from "./pages/task.tsx";
import { Mail } from "./pages/mail.tsx";
import { Workers } from "./pages/workers.tsx";
import { Memory } from "./pages/memory.tsx";
import { Workspaces } from "./pages/workspaces.tsx";
import { Agents } from "./pages/agents.tsx";

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
        {section === "workspaces" && <Workspaces projectId={id} />}
        {section === "agents" && <Agents sessionId={id} />}
      </main>
    </div>
  );
}

/**
 * Sign-in: paste a bearer token, or the OAuth device flow (RFC 8628) — the page shows a code to
 * approve on the server's verification page (from any device already signed in) and polls for
 * the token. The token is kept in this tab's sessionStorage, sent as a header, never in a URL.
 */
function SignIn() {
  const token = useSyncExternalStore(tokenStore.subscribe, tokenStore.get);
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState("");
  const [device, setDevice] = useState<{ userCode: string; uri: string; status: string } | undefined>();
  const [google, setGoogle] = useState("");
  const [googleStatus, setGoogleStatus] = useState("");
  // Google sign-in where the server has it configured: the page loads no third-party script
  // (strict CSP, offline fleets), so the Google ID token is pasted (e.g. from
  // `gcloud auth print-identity-token --audiences=<client id>`) and exchanged for a session.
  const googleSignIn = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const r = await client(AuthService).signInWithGoogle({ credential: google.trim() });
      tokenStore.set(r.accessToken);
      window.location.reload();
    } catch (err) {
      const d = describeError(err);
      setGoogleStatus(d.unimplemented ? "this server offers no Google sign-in" : `${d.reason || d.code}: ${d.message}`);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    tokenStore.set(draft.trim());
    setDraft("");
    setOpen(false);
    window.location.reload();
  };
  const deviceFlow = async () => {
    const auth = client(AuthService);
    try {
      const start = await auth.startDeviceAuthorization({});
      let interval = Math.max(1, start.interval) * 1000;
      const until = Date.now() + start.expiresIn * 1000;
      setDevice({ userCode: start.userCode, uri: start.verificationUriComplete || start.verificationUri, status: "waiting for approval…" });
      while (Date.now() < until) {
        await new Promise((r) => setTimeout(r, interval));
        try {
          const got = await auth.exchangeDeviceCode({ grantType: "urn:ietf:params:oauth:grant-type:device_code", deviceCode: start.deviceCode });
          tokenStore.set(got.accessToken);
          window.location.reload();
          return;
        } catch (e) {
          const d = describeError(e);
          const why = `${d.reason} ${d.message}`.toLowerCase();
          if (why.includes("pending")) continue;
          if (why.includes("slow")) {
            interval += 5000;
            continue;
          }
          setDevice((x) => x && { ...x, status: `${d.reason || d.code}: ${d.message}` });
          return;
        }
      }
      setDevice((x) => x && { ...x, status: "the code expired: start again" });
    } catch (e) {
      const d = describeError(e);
      setDevice({ userCode: "", uri: "", status: d.unimplemented ? "this server offers no device flow" : `${d.reason || d.code}: ${d.message}` });
    }
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
  if (!open) {
    return (
      <span className="signin">
        <button type="button" onClick={() => setOpen(true)}>
          Sign in
        </button>
      </span>
    );
  }
  return (
    <div className="signin">
      <form onSubmit={submit} className="signin">
        <label>
          <span className="sr-only">API token</span>
          <input type="password" autoComplete="off" placeholder="API token" value={draft} onChange={(e) => setDraft(e.target.value)} />
        </label>
        <button type="submit">Use token</button>
      </form>
      <button type="button" onClick={() => void deviceFlow()}>
        Device flow
      </button>
      <form onSubmit={googleSignIn} className="signin">
        <label>
          <span className="sr-only">Google ID token</span>
          <input type="password" autoComplete="off" placeholder="Google ID token" value={google} onChange={(e) => setGoogle(e.target.value)} />
        </label>
        <button type="submit">Sign in with Google</button>
        {googleStatus && (
          <span role="alert" className="error-inline">
            {googleStatus}
          </span>
        )}
      </form>
      {device && (
        <span role="status" className="device">
          {device.userCode && (
            <>
              code <strong data-user-code={device.userCode}>{device.userCode}</strong> —{" "}
              <a href={device.uri} target="_blank" rel="noreferrer">
                approve it here
              </a>{" "}
            </>
          )}
          <span className="muted">{device.status}</span>
        </span>
      )}
    </div>
  );
}
