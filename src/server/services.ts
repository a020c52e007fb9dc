import type { DescService } from "@bufbuild/protobuf";
import { join } from "node:path";

const genDir = join(import.meta.dir, "..", "..", "gen");

/**
 * Every service declared in proto/, read from the generated code: the server registers all of
 * them, so an RPC whose domain is not built yet still answers (unimplemented, naming itself).
 */
export async function loadServiceDescriptors(): Promise<DescService[]> {
  const services = new Map<string, DescService>();
  const glob = new Bun.Glob("**/*_pb.ts");
  const files = [...glob.scanSync({ cwd: genDir })].sort();
  for (const file of files) {
    const mod = (await import(join(genDir, file))) as Record<string, unknown>;
    for (const value of Object.values(mod)) {
      if (isService(value)) services.set(value.typeName, value);
    }
  }
  return [...services.values()];
}

function isService(value: unknown): value is DescService {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "service";
}
