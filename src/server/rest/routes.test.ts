import { describe, expect, it } from "bun:test";
import { allServices } from "../services.ts";
import { createRestRouter, type RestRoute, type RestRouter } from "./routes.ts";

// The router looks only at routes whose first path segment can match; the answer must be the
// one a scan of every route in order gives (the oracle below is that scan).
function scan(routes: RestRoute[], httpMethod: string, path: string): ReturnType<RestRouter["match"]> {
  const allowed: string[] = [];
  let verbMatched = false;
  for (const route of routes) {
    if (verbMatched && route.template.verb === undefined) break;
    const params = route.template.match(path);
    if (!params) continue;
    if (route.template.verb !== undefined) verbMatched = true;
    if (route.httpMethod === httpMethod || (httpMethod === "HEAD" && route.httpMethod === "GET")) return { route, params };
    allowed.push(route.httpMethod);
  }
  return allowed.length > 0 ? { methodNotAllowed: [...new Set(allowed)] } : undefined;
}

describe("the REST route index", () => {
  it("answers every path of every template, and others, as a scan of all routes", async () => {
    const services = allServices();
    const router = createRestRouter(services.flatMap((s) => s.methods));
    expect(router.routes.length).toBeGreaterThan(50);
    const paths = new Set<string>(["/", "/v1", "/v1/", "/nope/x", "/v1/tasks/0:cancel", "/v1/tasks/0%3Acancel", "/v1/unknown/thing"]);
    for (const r of router.routes) {
      const filled = r.template.source.replace(/\{[^}]*\}/g, (v) => (v.includes("**") || v.includes("/") ? "a/b/c" : "x1"));
      paths.add(filled);
      paths.add(filled + "/extra");
      paths.add(filled.replace(/:[a-zA-Z]+$/, ""));
    }
    // Compared by a printable summary (a route holds its method descriptor).
    const summary = (m: ReturnType<typeof scan>) => (m === undefined ? "none" : "methodNotAllowed" in m ? `405 ${m.methodNotAllowed.join(",")}` : `${m.route.httpMethod} ${m.route.template.source} ${JSON.stringify(m.params)}`);
    let matched = 0;
    for (const path of paths) {
      for (const method of ["GET", "POST", "PATCH", "DELETE", "PUT", "HEAD"]) {
        const want = scan(router.routes, method, path);
        expect({ method, path, got: summary(router.match(method, path)) }).toEqual({ method, path, got: summary(want) });
        if (want && "route" in want) matched++;
      }
    }
    expect(matched).toBeGreaterThan(router.routes.length);
  });
});
