import { expect, test } from "bun:test";
import { join } from "node:path";
import { ROOT } from "../core/paths.ts";
import { allServices, isService } from "./services.ts";

test("the server's service list holds every service the generated code declares, once", async () => {
  const declared: string[] = [];
  for (const file of [...new Bun.Glob("**/*_pb.ts").scanSync({ cwd: join(ROOT, "gen") })].sort()) {
    for (const value of Object.values((await import(join(ROOT, "gen", file))) as Record<string, unknown>)) if (isService(value)) declared.push(value.typeName);
  }
  const listed = allServices().map((s) => s.typeName);
  expect(declared.length).toBeGreaterThan(20);
  expect(listed).toEqual(declared);
  expect(listed).toContain("switchyard.tasks.v1.TaskService");
  expect(new Set(listed).size).toBe(listed.length);
});
