/**
 * google.api.http path templates (`/v1/{name=projects/*}/tasks/{id}:claim`) compiled to
 * matchers. Grammar (google/api/http.proto):
 *   Template = "/" Segments [ ":" Verb ]; Segment = "*" | "**" | LITERAL | Variable;
 *   Variable = "{" FieldPath [ "=" Segments ] "}".
 */
export interface PathTemplate {
  /** The template as written. */
  source: string;
  /** Field paths of the variables, in order (`["name"]`, `["task", "id"]`). */
  variables: string[][];
  /** The custom verb, if any (`claim`). */
  verb: string | undefined;
  /** Literal segments count, for ordering more specific routes first. */
  literals: number;
  /** Variable values by dotted field path, or undefined when the path does not match. */
  match(path: string): Record<string, string> | undefined;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export class TemplateError extends Error {
  constructor(template: string, why: string) {
    super(`bad path template ${template}: ${why}`);
    this.name = "TemplateError";
  }
}

/** Splits `a/{b=c/*}/d` on slashes that are not inside braces. */
function splitSegments(s: string, template: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of s) {
    if (ch === "{") depth++;
    if (ch === "}") depth--;
    if (depth < 0 || depth > 1) throw new TemplateError(template, "unbalanced braces");
    if (ch === "/" && depth === 0) {
      out.push(current);
      current = "";
    } else current += ch;
  }
  if (depth !== 0) throw new TemplateError(template, "unbalanced braces");
  out.push(current);
  return out;
}

function segmentPattern(segment: string, template: string): { pattern: string; literal: boolean } {
  if (segment === "*") return { pattern: "[^/]+", literal: false };
  if (segment === "**") return { pattern: ".+", literal: false };
  if (segment === "" || /[{}*]/.test(segment)) throw new TemplateError(template, `bad segment "${segment}"`);
  return { pattern: escape(segment), literal: true };
}

/** Compiles a path template; throws TemplateError when it is malformed. */
export function compileTemplate(source: string): PathTemplate {
  if (!source.startsWith("/")) throw new TemplateError(source, "must start with /");
  let body = source.slice(1);
  let verb: string | undefined;
  const lastSlash = body.lastIndexOf("/");
  const lastClose = body.lastIndexOf("}");
  const colon = body.lastIndexOf(":");
  if (colon > lastSlash && colon > lastClose) {
    verb = body.slice(colon + 1);
    body = body.slice(0, colon);
  }
  const variables: string[][] = [];
  let literals = 0;
  const parts = splitSegments(body, source).map((segment) => {
    const v = /^\{([\w.]+)(?:=(.+))?\}$/.exec(segment);
    if (!v) {
      const p = segmentPattern(segment, source);
      if (p.literal) literals++;
      return p.pattern;
    }
    variables.push(v[1]!.split("."));
    const inner = v[2] === undefined ? "[^/]+" : splitSegments(v[2], source).map((s) => {
      const p = segmentPattern(s, source);
      if (p.literal) literals++;
      return p.pattern;
    }).join("/");
    return `(${inner})`;
  });
  const regex = new RegExp(`^/${parts.join("/")}${verb === undefined ? "" : escape(":" + verb)}$`);
  return {
    source,
    variables,
    verb,
    literals,
    match(path) {
      const m = regex.exec(path);
      if (!m) return undefined;
      const values: Record<string, string> = {};
      for (let i = 0; i < variables.length; i++) {
        // Decode each segment on its own so an encoded slash (%2F) stays inside its segment.
        values[variables[i]!.join(".")] = m[i + 1]!.split("/").map(decodeSegment).join("/");
      }
      return values;
    },
  };
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
