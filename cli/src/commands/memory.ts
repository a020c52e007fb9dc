// Agent memory (MemoryService): add one, search by text, meaning or both.
import type { Command } from "commander";
import { CreateMemoryResponseSchema, MemoryService } from "../../../gen/switchyard/memory/v1/memory_service_pb.js";
import { MemorySearchResultSchema } from "../../../gen/switchyard/memory/v1/memory_pb.js";
import { intArg, type Ctx } from "../context.ts";
import { CliError, EXIT } from "../errors.ts";
import { render, type Column } from "../output.ts";

const m = (r: Record<string, unknown>) => (r.memory ?? {}) as Record<string, unknown>;
const MEMORY_COLUMNS: Column[] = [
  ["ID", (r) => m(r).id],
  ["TYPE", (r) => m(r).type],
  ["AGENT", (r) => m(r).agent_id],
  ["SCOPE", (r) => m(r).scope],
  ["IMPORTANCE", (r) => m(r).importance ?? ""],
  ["CONTENT", (r) => m(r).content],
];
const RESULT_COLUMNS: Column[] = [["SCORE", (r) => Number(r.score).toFixed(4)], ...MEMORY_COLUMNS];

const collect = (v: string, acc: string[] = []) => [...acc, v];

export function registerMemory(program: Command, ctx: () => Ctx): void {
  const memory = program.command("memory").description("agent memory: add, search");
  const api = () => ctx().client(MemoryService);

  memory
    .command("add <content>")
    .description("store a memory")
    .requiredOption("--type <type>", "kind of memory, e.g. fact, preference, episode")
    .option("--agent <id>", "the agent it belongs to")
    .option("--scope <scope>", "scope, e.g. a project")
    .option("--importance <x>", "0 to 1")
    .option("--tag <tag>", "a tag (repeatable)", collect)
    .option("--request-id <key>", "idempotency key")
    .action(async (content: string, o) => {
      const c = ctx();
      const importance = o.importance === undefined ? undefined : Number(o.importance);
      if (importance !== undefined && !(importance >= 0 && importance <= 1)) throw new CliError(`--importance must be a number from 0 to 1 (got ${o.importance})`, EXIT.usage);
      const res = await api().createMemory(
        { memory: { content, type: o.type, agentId: o.agent ?? "", scope: o.scope ?? "", importance, tags: o.tag ?? [] }, requestId: o.requestId ?? "" },
        { timeoutMs: c.timeoutMs },
      );
      render(c.out, c.json(CreateMemoryResponseSchema, res), MEMORY_COLUMNS);
    });

  memory
    .command("search <query>")
    .description("search memories: full text (default), semantic or hybrid")
    .option("-m, --mode <mode>", "text, semantic or hybrid", "text")
    .option("-l, --limit <n>", "most results", "10")
    .option("--type <type>", "only this type (repeatable)", collect)
    .option("--agent <id>", "only this agent's")
    .option("--scope <scope>", "only this scope")
    .option("--tag <tag>", "only with this tag (repeatable)", collect)
    .action(async (query: string, o) => {
      const c = ctx();
      const limit = intArg(o.limit, "--limit", 1, 1000)!;
      const filter = { types: o.type ?? [], agentId: o.agent ?? "", scope: o.scope ?? "", tags: o.tag ?? [] };
      const opts = { timeoutMs: c.timeoutMs };
      let res;
      if (o.mode === "text") res = await api().searchMemories({ query, filter, limit }, opts);
      else if (o.mode === "semantic") res = await api().semanticSearchMemories({ queryText: query, filter, topK: limit }, opts);
      else if (o.mode === "hybrid") res = await api().hybridSearchMemories({ query, filter, topK: limit }, opts);
      else throw new CliError(`--mode must be text, semantic or hybrid (got ${o.mode})`, EXIT.usage);
      render(c.out, res.results.map((r) => c.json(MemorySearchResultSchema, r)) as never, RESULT_COLUMNS);
    });
}
