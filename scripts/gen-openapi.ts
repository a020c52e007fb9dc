// Writes gen/openapi.json from proto/ (descriptors with comments, via `buf build`): the REST
// API document served at /openapi.json and /docs. Run by `bun run generate`; CI checks it fresh.
import { createFileRegistry, fromBinary, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { buildOpenApi } from "../src/server/rest/openapi.ts";

const root = join(import.meta.dir, "..");
const out = process.argv[2] ?? join(root, "gen", "openapi.json");
const build = Bun.spawnSync([join(root, "node_modules/.bin/buf"), "build", "proto", "-o", "-#format=binpb"], { cwd: root });
if (build.exitCode !== 0) throw new Error(`buf build failed: ${build.stderr.toString()}`);
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, build.stdout));
const services: DescService[] = [];
for (const file of registry.files) if (file.name.startsWith("switchyard/")) services.push(...file.services);
services.sort((a, b) => a.typeName.localeCompare(b.typeName));
const doc = buildOpenApi(services, { title: "Switchyard", version: pkg.version });
await Bun.write(out, JSON.stringify(doc, null, 2) + "\n");
console.log(`wrote ${out}: ${Object.keys(doc.paths as object).length} paths`);
