import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startTestServer, type TestServer } from "../testing/server.ts";
import { callBackend } from "./backend-http.ts";
import { createUrlGuard } from "./ssrf.ts";

// Names resolve through a table here, so the corpus does not depend on this machine's DNS.
const DNS: Record<string, string[]> = {
  "public.example": ["93.184.216.34"],
  "rebind.example": ["93.184.216.34", "10.0.0.5"],
  "internal.example": ["192.168.1.10"],
  "v6.example": ["2606:4700:4700::1111"],
  "v6-private.example": ["fd00::1"],
  "allowed.internal": ["10.1.2.3"],
};
const resolve = async (host: string) => {
  const a = DNS[host];
  if (!a) throw new Error("ENOTFOUND");
  return a;
};
const guard = createUrlGuard(["allowed.internal", "10.9.0.0/16"], resolve);

/** URLs a backend may not be registered with, nor redirect to. */
const BAD = [
  "http://169.254.169.254/latest/meta-data/",
  "http://169.254.170.2/v2/credentials",
  "http://metadata.google.internal/computeMetadata/v1/",
  "http://metadata/computeMetadata/v1/",
  "http://[fd00:ec2::254]/latest/meta-data/",
  "http://127.0.0.1:8080/predict",
  "http://127.1/predict",
  "http://2130706433/predict",
  "http://0x7f000001/predict",
  "http://0177.0.0.1/predict",
  "http://localhost/predict",
  "http://api.localhost/predict",
  "http://0.0.0.0/predict",
  "http://[::1]/predict",
  "http://[::]/predict",
  "http://[::ffff:127.0.0.1]/predict",
  "http://[::ffff:169.254.169.254]/predict",
  "http://[64:ff9b::a9fe:a9fe]/predict",
  "http://[fe80::1]/predict",
  "http://10.0.0.1/predict",
  "http://172.16.5.4/predict",
  "http://192.168.0.1/predict",
  "http://100.64.0.1/predict",
  "http://224.0.0.1/predict",
  "http://255.255.255.255/predict",
  "http://internal.example/predict",
  "http://rebind.example/predict",
  "http://v6-private.example/predict",
  "http://unknown.example/predict",
  "ftp://public.example/predict",
  "file:///etc/passwd",
  "gopher://public.example:70/",
  "http://user:pass@public.example/predict",
  "javascript:alert(1)",
  "not a url",
];
const GOOD = [
  "https://public.example/predict",
  "http://public.example:8080/predict?x=1",
  "http://v6.example/predict",
  "http://93.184.216.34/predict",
  "http://allowed.internal/predict",
  "http://10.9.3.4/predict",
];

describe("SSRF guard", () => {
  for (const url of BAD) {
    it(`refuses ${url}`, async () => {
      expect(await guard.refusal(url)).toBeString();
    });
  }
  for (const url of GOOD) {
    it(`allows ${url}`, async () => {
      expect(await guard.refusal(url)).toBeUndefined();
    });
  }
});

describe("SSRF guard on a real server and a real redirect", () => {
  let sy: TestServer;
  let redirector: ReturnType<typeof Bun.serve>;
  beforeAll(async () => {
    sy = await startTestServer({ SWITCHYARD_BACKEND_ALLOW: "127.0.0.1/32" });
    redirector = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (req) => {
        const to = new URL(req.url).searchParams.get("to");
        return to ? Response.redirect(to, 302) : Response.json({ result: "here" });
      },
    });
  });
  afterAll(async () => {
    await sy?.close();
    redirector?.stop(true);
  });

  it("refuses to register backends whose endpoints point at metadata, private or loopback addresses (400 naming the field)", async () => {
    for (const url of ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/predict", "http://[::1]/predict", "file:///etc/passwd", "http://localhost:1/predict"]) {
      const r = await fetch(`${sy.url}/api/servers`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: `bad-${Bun.hash(url)}`, endpoints: { predict: url } }),
      });
      expect(r.status).toBe(400);
      const body = (await r.json()) as { error: string; details: string };
      expect(body.error).toBe("Invalid request");
      expect(body.details).toContain("endpoints.predict");
    }
    const ok = await fetch(`${sy.url}/api/servers`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "allowed-loopback", endpoints: { predict: `http://127.0.0.1:${redirector.port}/predict` } }),
    });
    expect(ok.status).toBe(200);
  });

  it("follows a redirect only when its target passes the guard", async () => {
    const local = createUrlGuard(["127.0.0.1/32"]);
    const base = `http://127.0.0.1:${redirector.port}/predict`;
    const fine = await callBackend(local, `${base}?to=${encodeURIComponent(base)}`, { method: "POST", body: {}, timeoutMs: 2000 });
    expect(fine.ok).toBe(true);
    for (const to of ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/x", "http://[::1]:1/x"]) {
      const r = await callBackend(local, `${base}?to=${encodeURIComponent(to)}`, { method: "POST", body: {}, timeoutMs: 2000 });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toContain("refused redirect");
    }
  });
});
