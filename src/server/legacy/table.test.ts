import { expect, test } from "bun:test";
import { createLegacyRouter, type LegacyFamily, type RawLegacyRoute } from "./table.ts";

const raw = (method: RawLegacyRoute["method"], path: string, aliases?: RawLegacyRoute["aliases"]): RawLegacyRoute => ({ method, path, aliases, raw: async () => {} });
const family = (name: string, routes: RawLegacyRoute[]): LegacyFamily => ({ name, routes, error: () => ({ body: {} }) });

// The router tries a path only against routes its first segment can match; declaration order
// across families (first declared wins) must hold as with one scan of every route.
test("the first declared route wins across first segments, parameters first included, and 405s list every method", () => {
  const a = family("a", [raw("GET", "/:tenant/tasks"), raw("POST", "/api/tasks/:id/claim", [{ path: "/v2/claim/:id" }])]);
  const b = family("b", [raw("GET", "/api/tasks"), raw("GET", "/api/tasks/:id"), raw("DELETE", "/api/tasks/:id"), raw("GET", "/"), raw("GET", "/api")]);
  const router = createLegacyRouter([a, b]);
  const hit = (method: string, path: string) => {
    const m = router.match(method, path);
    if (!m) return undefined;
    return "methodNotAllowed" in m ? `405 ${m.family.name} ${m.methodNotAllowed.join(",")}` : `${m.family.name} ${m.route.method} ${m.route.path} ${JSON.stringify(m.params)}`;
  };
  expect(hit("GET", "/api/tasks")).toBe('a GET /:tenant/tasks {"tenant":"api"}'); // declared before b's literal route
  expect(hit("GET", "/acme/tasks/")).toBe('a GET /:tenant/tasks {"tenant":"acme"}');
  expect(hit("GET", "/api/tasks/t%201")).toBe('b GET /api/tasks/:id {"id":"t 1"}');
  expect(hit("HEAD", "/api/tasks/x")).toBe('b GET /api/tasks/:id {"id":"x"}');
  expect(hit("POST", "/api/tasks/x/claim")).toBe('a POST /api/tasks/:id/claim {"id":"x"}');
  expect(hit("POST", "/v2/claim/y")).toBe('a POST /api/tasks/:id/claim {"id":"y"}');
  expect(hit("PUT", "/api/tasks/x")).toBe("405 b GET,DELETE");
  expect(hit("POST", "/api/tasks")).toBe("405 a GET,GET");
  expect(hit("GET", "/")).toBe("b GET / {}");
  expect(hit("GET", "/api/")).toBe("b GET /api {}"); // one literal segment, a trailing slash
  expect(hit("GET", "/api/tasks/")).toBe('a GET /:tenant/tasks {"tenant":"api"}');
  expect(hit("GET", "/nothing/here")).toBeUndefined();
  expect(hit("GET", "/v2")).toBeUndefined();
});
