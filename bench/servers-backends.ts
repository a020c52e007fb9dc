// Four HTTP backends for the push-dispatch benchmark, in their own process so their CPU is not
// Switchyard's: each answers POST /predict after BACKEND_MS (sync, seed 001 shape) and GET
// /health. Prints their base URLs as one JSON line, then serves until killed.
const ms = Number(process.env.BACKEND_MS ?? 0);
const urls: string[] = [];
for (let i = 0; i < 4; i++) {
  const s = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/health") return Response.json({ status: "healthy" });
      const body = (await req.json()) as { id: string; payload: unknown };
      if (ms) await Bun.sleep(ms);
      return Response.json({ status: "success", result: { id: body.id, by: i } });
    },
  });
  urls.push(`http://127.0.0.1:${s.port}`);
}
console.log(JSON.stringify(urls));
