/** A path's first two segments: `/v1/tasks/x` → `["v1", "tasks"]`, `/` → `[""]`. */
const leading = (path: string) => path.split("/", 3).slice(1);

/**
 * Which routes a path can match, by its first two segments, in the routes' own order: a route
 * whose leading segments are literal matches only paths that start with them; a variable there
 * makes it a candidate for every path with the literal part before it. Saves testing every
 * route's pattern on each request. `literalPrefix` gives a route's leading literal segments
 * (those before its first variable). The REST and legacy routers both index their routes so.
 */
export function candidatesByPrefix<R>(routes: R[], literalPrefix: (route: R) => string[]): (path: string) => R[] {
  const prefixOf = new Map<R, string[]>(routes.map((r) => [r, literalPrefix(r).slice(0, 2)]));
  const could = (r: R, s0: string | undefined, s1: string | undefined) => {
    const p = prefixOf.get(r)!;
    return (p.length < 1 || p[0] === s0) && (p.length < 2 || p[1] === s1);
  };
  const byTwo = new Map<string, R[]>();
  const byOne = new Map<string, R[]>();
  for (const r of routes) {
    const [s0, s1] = prefixOf.get(r)!;
    if (s0 === undefined) continue;
    if (!byOne.has(s0)) byOne.set(s0, routes.filter((x) => could(x, s0, undefined)));
    if (s1 !== undefined && !byTwo.has(`${s0}/${s1}`)) byTwo.set(`${s0}/${s1}`, routes.filter((x) => could(x, s0, s1)));
  }
  const anyFirst = routes.filter((r) => could(r, undefined, undefined));
  return (path) => {
    const [s0, s1] = leading(path);
    return (s0 !== undefined && s1 !== undefined ? byTwo.get(`${s0}/${s1}`) : undefined) ?? (s0 !== undefined ? byOne.get(s0) : undefined) ?? anyFirst;
  };
}

/** The leading literal segments of a template, up to the first segment for which `isVariable` holds. */
export function literalSegments(template: string, isVariable: (segment: string) => boolean): string[] {
  const prefix: string[] = [];
  for (const seg of leading(template)) {
    if (isVariable(seg)) break;
    prefix.push(seg);
  }
  return prefix;
}
