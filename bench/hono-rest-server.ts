// The REST comparison of issue 14 (bench/per-call.ts): Hono on Bun answering
// `GET /v1/tasks/{id}` with the query Switchyard's tasks store runs for GetTask
// (`SELECT * FROM tasks WHERE tenant = ? AND id = ?`, a prepared bun:sqlite statement on the
// benchmark server's own database file, read-only through WAL), the row turned into the JSON
// object REST answers (the same fields). `bun bench/hono-rest-server.ts <port> <db file>`.
import { Database } from "bun:sqlite";
import { Hono } from "hono";

const [portArg, dbFile] = [Number(process.argv[2]), process.argv[3]!];
const db = new Database(dbFile, { readonly: true });
const byId = db.prepare("SELECT * FROM tasks WHERE tenant = ? AND id = ?");
const iso = (ms: unknown) => (typeof ms === "number" ? new Date(ms).toISOString() : undefined);
type Row = Record<string, unknown>;

const app = new Hono();
app.get("/v1/tasks/:id", (c) => {
  const row = byId.get("default", c.req.param("id")) as Row | null;
  if (!row) return c.json({ error: { code: "not_found", status: 404, message: "task not found", reason: "TASK_NOT_FOUND", metadata: {} } }, 404);
  const task: Row = {};
  for (const [k, v] of Object.entries(row)) {
    if (v === null || k === "seq" || k === "tenant") continue;
    if (k === "payload" || k === "result" || k === "labels" || k === "capabilities") task[k] = typeof v === "string" ? JSON.parse(v) : v;
    else if (k.endsWith("_at")) task[k.replace(/_at$/, "_time")] = iso(v);
    else task[k] = v;
  }
  return c.json({ task });
});
Bun.serve({ port: portArg, hostname: "127.0.0.1", fetch: app.fetch });
process.stdout.write("ready\n");
