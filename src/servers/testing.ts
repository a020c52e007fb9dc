import type { Server } from "bun";

/** Waits until `check` answers a truthy value (polling), or throws after `ms` with `what`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, ms = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    await Bun.sleep(20);
  }
  throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
}

/** A real HTTP backend for tests (Bun.serve on port 0) that records what it was sent. */
export interface TestBackend {
  url: string;
  server: Server<undefined>;
  /** Bodies POSTed to /predict, in order. */
  received: Record<string, any>[];
  /** Authorization headers seen. */
  auth: string[];
  healthChecks: number;
  stop(): void;
}

export function startBackend(handle: (body: Record<string, any>, backend: TestBackend) => Response | Promise<Response>, health: () => Response = () => Response.json({ status: "healthy" })): TestBackend {
  const b = { received: [], auth: [], healthChecks: 0 } as unknown as TestBackend;
  b.server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      b.auth.push(req.headers.get("authorization") ?? "");
      if (path === "/health") {
        b.healthChecks++;
        return health();
      }
      if (path === "/predict" && req.method === "POST") {
        const body = (await req.json()) as Record<string, any>;
        b.received.push(body);
        return handle(body, b);
      }
      return new Response("not found", { status: 404 });
    },
  });
  b.url = `http://127.0.0.1:${b.server.port}`;
  b.stop = () => void b.server.stop(true);
  return b;
}
