// `bun run bench`: runs every benchmark, prints a table and writes it, with the command and
// the machine, to bench/results/<date>-<name>.md. Not a test: nothing here asserts a speed.
import { cpus } from "node:os";
import { join } from "node:path";
import { transportBench } from "./transport.ts";

const which = process.argv[2] ?? "all";
const date = new Date().toISOString().slice(0, 10);
const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Bun ${Bun.version}`;

async function write(name: string, body: string): Promise<void> {
  const file = join(import.meta.dir, "results", `${date}-${name}.md`);
  const text = `# ${name} benchmark, ${date}\n\nCommand: \`bun run bench ${name}\`\nMachine: ${machine}\n\n${body}\n`;
  await Bun.write(file, text);
  console.log(text);
  console.log(`written to ${file}`);
}

if (which === "all" || which === "transport") {
  const rows = await transportBench();
  const ceiling = rows[0]!.callsPerSecond;
  const table = [
    "| path | calls/s | p50 ms | p99 ms | share of the bare Bun.serve ceiling |",
    "|---|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.name} | ${r.callsPerSecond} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${(r.callsPerSecond / ceiling).toFixed(3)} |`),
  ].join("\n");
  await write("transport", `32 concurrent callers for 4 s per row, one server process, load from a second process.\n\n${table}`);
}
