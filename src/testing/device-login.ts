// A small RFC 8628 client, as a CLI logs in: start, show the code, poll the token endpoint at
// the interval (wider after each slow_down) until a token, a denial or expiry. Tests inject
// `sleep` (to move a manual server clock); run it by hand with `bun src/testing/device-login.ts <url>`.

export interface DeviceLoginOptions {
  /** Shows the code to the person (a CLI prints it). */
  onCode(code: { userCode: string; verificationUri: string; verificationUriComplete: string }): void | Promise<void>;
  /** Waits `ms` between polls (default: real time). */
  sleep?(ms: number): Promise<void>;
  /** Every poll's answer, for tests and verbose CLIs. */
  onPoll?(answer: string): void;
}

export type DeviceLoginResult = { ok: true; accessToken: string; user: { id: string; email: string } } | { ok: false; error: string };

const GRANT = "urn:ietf:params:oauth:grant-type:device_code";

export async function deviceLogin(baseUrl: string, options: DeviceLoginOptions): Promise<DeviceLoginResult> {
  const sleep = options.sleep ?? ((ms: number) => Bun.sleep(ms));
  const start = (await (await fetch(`${baseUrl}/v1/oauth/device`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).json()) as {
    device_code: string;
    user_code: string;
    verification_uri: string;
    verification_uri_complete: string;
    expires_in: number;
    interval: number;
  };
  await options.onCode({ userCode: start.user_code, verificationUri: start.verification_uri, verificationUriComplete: start.verification_uri_complete });
  let interval = start.interval;
  for (;;) {
    await sleep(interval * 1000);
    const res = await fetch(`${baseUrl}/v1/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: GRANT, device_code: start.device_code }).toString(),
    });
    const body = (await res.json()) as { access_token?: string; user?: { id: string; email: string }; error?: string };
    options.onPoll?.(body.error ?? "token");
    if (res.ok && body.access_token) return { ok: true, accessToken: body.access_token, user: body.user! };
    if (body.error === "authorization_pending") continue;
    if (body.error === "slow_down") {
      interval += 5;
      continue;
    }
    return { ok: false, error: body.error ?? `HTTP ${res.status}` };
  }
}

if (import.meta.main) {
  const url = process.argv[2] ?? "http://localhost:8080";
  const r = await deviceLogin(url, {
    onCode: (c) => console.log(`Open ${c.verificationUriComplete}\nor go to ${c.verificationUri} and enter ${c.userCode}`),
  });
  console.log(r.ok ? `Logged in as ${r.user.email || r.user.id}\n${r.accessToken}` : `Login failed: ${r.error}`);
  process.exit(r.ok ? 0 : 1);
}
