// A child process of tasks-claim-race.test.ts: several concurrent claimers, each with its own
// gRPC connection to the server. Tasks whose id hashes to 0 mod 7 fail retryably on their first
// attempt (ready again at once), the rest are completed in batches. Prints the JSON list of
// "id:token" it claimed.
import { TaskService } from "../../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { clientFor } from "../../../src/testing/clients.ts";

const [url, claimersArg, batchArg, queue, barrier] = process.argv.slice(2) as [string, string, string, string, string | undefined];
export const failsFirst = (id: string) => Number(Bun.hash(id) % 7n) === 0;
const claimed: string[] = [];

async function claimer(n: number): Promise<void> {
  const client = clientFor(TaskService, url, "grpc");
  const workerId = `pid${process.pid}-c${n}`;
  let idle = 0;
  while (idle < 5) {
    const { assignments } = await client.claimTasks({ workerId, queues: [queue], maxTasks: Number(batchArg), leaseDuration: { seconds: 120n } });
    if (assignments.length === 0) {
      idle++;
      await Bun.sleep(10);
      continue;
    }
    idle = 0;
    const done = [];
    for (const a of assignments) {
      claimed.push(`${a.task!.id}:${a.lease!.fencingToken}`);
      if (a.task!.attempt === 1 && failsFirst(a.task!.id)) {
        await client.failTask({ id: a.task!.id, fencingToken: a.lease!.fencingToken, error: { message: "first try", retryable: true }, retryDelay: { seconds: 0n } });
      } else done.push({ id: a.task!.id, fencingToken: a.lease!.fencingToken, result: { kind: { case: "stringValue" as const, value: workerId } } });
    }
    if (done.length === 0) continue;
    const { results } = await client.batchCompleteTasks({ requests: done });
    if (results.some((r) => !r.ok)) throw new Error(`a completion of a fresh claim was refused: ${JSON.stringify(results.find((r) => !r.ok))}`);
  }
}

if (import.meta.main) {
  // Start barrier: say ready, wait for the test's go, so the processes race from one moment.
  if (barrier) {
    await Bun.write(`${barrier}.ready.${process.pid}`, "");
    while (!(await Bun.file(`${barrier}.go`).exists())) await Bun.sleep(2);
  }
  await Promise.all(Array.from({ length: Number(claimersArg) }, (_, i) => claimer(i)));
  process.stdout.write(JSON.stringify(claimed));
}
