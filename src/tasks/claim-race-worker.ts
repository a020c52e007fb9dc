// A child process of claim-race.test.ts: several concurrent claimers over one database file.
// Prints the JSON list of "id:token" it claimed (and completed).
import { systemClock } from "../core/clock.ts";
import { openDatabase } from "../db/client.ts";
import { createTaskEngine } from "./engine.ts";

const [path, claimersArg, batchArg, name] = process.argv.slice(2);
const database = openDatabase(path!, { migrate: false });
const engine = createTaskEngine({ database, clock: systemClock });
const claimed: string[] = [];

async function claimer(n: number): Promise<void> {
  let idle = 0;
  while (idle < 3) {
    const got = await engine.claimTasks({ workerId: `pid${process.pid}-c${n}`, queues: ["race"], maxTasks: Number(batchArg) });
    if (got.length === 0) {
      idle++;
      await Bun.sleep(5);
      continue;
    }
    idle = 0;
    for (const a of got) claimed.push(`${a.task.id}:${a.lease.fencingToken}`);
    const results = await engine.batchCompleteTasks(got.map((a) => ({ id: a.task.id, fencingToken: a.lease.fencingToken, result: n })));
    if (results.some((r) => !r.ok)) throw new Error("a completion of a fresh claim was refused");
    // A worker does some work between claims. Without any, one process can keep SQLite's
    // write lock nearly all the time and the other waits in its busy handler until the end.
    await Bun.sleep(1);
  }
}

// A start barrier: announce readiness, then wait for the test's go, so both processes race
// from the same moment instead of the first one to boot taking every task.
await Bun.write(`${path}.ready.${name}`, "");
while (!(await Bun.file(`${path}.go`).exists())) await Bun.sleep(2);

await Promise.all(Array.from({ length: Number(claimersArg) }, (_, i) => claimer(i)));
await database.close();
process.stdout.write(JSON.stringify(claimed));
