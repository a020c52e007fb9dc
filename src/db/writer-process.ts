// A second process writing to the same database file (used by the multi-process test).
import { openDatabase } from "./client.ts";

const [path, tag, count] = [process.argv[2]!, process.argv[3]!, Number(process.argv[4])];
const database = openDatabase(path);
const insert = database.sqlite.prepare("INSERT INTO t (v) VALUES (?)");
const writes: Promise<unknown>[] = [];
for (let i = 0; i < count; i++) {
  writes.push(database.committer.run(() => insert.run(`${tag}-${i}`)));
  if (i % 100 === 99) await Promise.all(writes.splice(0));
}
await Promise.all(writes);
await database.close();
