import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { startTestServer, type TestServer } from "../../src/testing/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe("API documents", () => {
  it("serves /openapi.json listing every REST route the transcoder serves", async () => {
    const res = await fetch(`${server.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc.openapi).toBe("3.1.0");
    const { createRestRouter } = await import("../../src/server/rest/routes.ts");
    const routes = createRestRouter(server.app.rpc.methods.values()).routes;
    expect(routes.length).toBeGreaterThan(50);
    for (const r of routes) {
      const path = r.template.source.replace(/\{([\w.]+)=[^}]*\}/g, "{$1}");
      expect(doc.paths[path]?.[r.httpMethod.toLowerCase()]).toBeDefined();
    }
    const getSetting = doc.paths["/v1/system/settings/{name}"].get;
    expect(getSetting.summary).toBe("One runtime setting. Errors: SETTING_NOT_FOUND.");
    expect(doc.components.schemas["switchyard.system.v1.Setting"].properties.update_time).toMatchObject({ type: "string", format: "date-time" });
  });

  it("lists the legacy routes too, seed 001's under the original's tags (Tasks, Statistics)", async () => {
    const doc = await (await fetch(`${server.url}/openapi.json`)).json();
    expect(doc.paths["/api/task"].post.tags).toEqual(["Tasks"]);
    expect(doc.paths["/api/task/{id}"].put.tags).toEqual(["Tasks"]);
    expect(doc.paths["/api/stats/hourly"].get.tags).toEqual(["Statistics"]);
    expect(doc.paths["/api/task/{id}"].get.parameters).toEqual([{ name: "id", in: "path", required: true, schema: { type: "string" } }]);
    // runqy's public spellings are documented beside the seed's.
    expect(doc.paths["/api/queues/{queue}/pause"].post["x-legacy"]).toBe("seed-003-runqy");
  });

  it("serves /docs as an HTML index of the operations", async () => {
    const res = await fetch(`${server.url}/docs`);
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    expect(html).toContain("<code>/v1/system/settings/{name}</code>");
    expect(html).toContain("SystemService");
  });

  it("serves /docs and seed 003's /swagger/index.html as an interactive Swagger UI page over /openapi.json", async () => {
    for (const path of ["/docs", "/swagger/index.html"]) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain('SwaggerUIBundle({ url: "/openapi.json"');
      for (const asset of html.matchAll(/(?:href|src)="(\/docs\/assets\/[^"]+)"/g)) {
        const a = await fetch(`${server.url}${asset[1]}`);
        expect(a.status).toBe(200);
        expect((await a.arrayBuffer()).byteLength).toBeGreaterThan(100);
      }
    }
    const js = await fetch(`${server.url}/docs/assets/swagger-ui-bundle.js`);
    expect(js.headers.get("content-type")).toContain("javascript");
  });

  it("guards the documents with the token when one is set", async () => {
    const locked = await startTestServer({ SWITCHYARD_API_TOKEN: "docs-token-0123456789" });
    try {
      expect((await fetch(`${locked.url}/openapi.json`)).status).toBe(401);
      expect((await fetch(`${locked.url}/openapi.json`, { headers: { authorization: "Bearer docs-token-0123456789" } })).status).toBe(200);
    } finally {
      await locked.close();
    }
  });
});
