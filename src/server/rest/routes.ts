import { getOption, hasOption, type DescMethod } from "@bufbuild/protobuf";
import { http } from "../../../gen/google/api/annotations_pb.js";
import type { HttpRule } from "../../../gen/google/api/http_pb.js";
import { candidatesByPrefix, literalSegments } from "../route-index.ts";
import { compileTemplate, type PathTemplate } from "./path-template.ts";

/** One REST binding of an RPC, from its google.api.http rule or an additional binding. */
export interface RestRoute {
  httpMethod: string;
  template: PathTemplate;
  method: DescMethod;
  /** "" (no body), "*" (whole message) or a top-level field name. */
  body: string;
  /** "" (whole response) or the response field to answer. */
  responseBody: string;
}

export interface RestMatch {
  route: RestRoute;
  params: Record<string, string>;
}

/** The REST route table, built at startup from the descriptors: no per-RPC code. */
export interface RestRouter {
  routes: RestRoute[];
  /** The route for a request; `methodNotAllowed` when only other HTTP methods match the path. */
  match(httpMethod: string, path: string): RestMatch | { methodNotAllowed: string[] } | undefined;
}

/** The bindings of a rule: the primary one, then its additional bindings. */
export function bindings(rule: HttpRule): { httpMethod: string; path: string; body: string; responseBody: string }[] {
  const out: { httpMethod: string; path: string; body: string; responseBody: string }[] = [];
  const p = rule.pattern;
  if (p.case === "custom") out.push({ httpMethod: p.value.kind.toUpperCase(), path: p.value.path, body: rule.body, responseBody: rule.responseBody });
  else if (p.case !== undefined) out.push({ httpMethod: p.case.toUpperCase(), path: p.value, body: rule.body, responseBody: rule.responseBody });
  for (const extra of rule.additionalBindings) out.push(...bindings(extra));
  return out;
}

/** Builds the router from every method that carries a google.api.http rule. */
export function createRestRouter(methods: Iterable<DescMethod>): RestRouter {
  const routes: RestRoute[] = [];
  for (const method of methods) {
    if (!hasOption(method, http)) continue;
    for (const b of bindings(getOption(method, http))) {
      routes.push({ httpMethod: b.httpMethod, template: compileTemplate(b.path), method, body: b.body, responseBody: b.responseBody });
    }
  }
  // Custom verbs and literal-heavy templates first: `/v1/tasks/{id}:claim` before `/v1/tasks/{id}`.
  routes.sort((a, b) => Number(b.template.verb !== undefined) - Number(a.template.verb !== undefined) || b.template.literals - a.template.literals);
  // Every template starts with /v1: the index by leading segments saves testing each regex.
  const candidatesOf = candidatesByPrefix(routes, (r) => literalSegments(r.template.source, (seg) => /[{}*]/.test(seg)));
  return {
    routes,
    match(httpMethod, path) {
      const candidates = candidatesOf(path);
      const allowed: string[] = [];
      // A path that names a custom verb (`/v1/tasks/0:cancel`) is that verb's, whatever the
      // method: it never falls through to `/v1/tasks/{id}`. Verb routes are sorted first. An
      // id holding `:verb` is still reachable with the colon percent-encoded (`0%3Acancel`).
      let verbMatched = false;
      for (const route of candidates) {
        if (verbMatched && route.template.verb === undefined) break;
        const params = route.template.match(path);
        if (!params) continue;
        if (route.template.verb !== undefined) verbMatched = true;
        if (route.httpMethod === httpMethod || (httpMethod === "HEAD" && route.httpMethod === "GET")) return { route, params };
        allowed.push(route.httpMethod);
      }
      return allowed.length > 0 ? { methodNotAllowed: [...new Set(allowed)] } : undefined;
    },
  };
}
