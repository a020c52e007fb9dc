import { getOption, hasOption, type DescMethod } from "@bufbuild/protobuf";
import { Policy, policy as policyOption } from "../../gen/switchyard/api/v1/policy_pb.js";

/** Who may call an RPC or a legacy route. */
export type AccessPolicy = "public" | "authenticated" | "admin" | "internal";

/** RPCs of upstream protos that cannot carry the option: the standard health protocol. */
const UPSTREAM_PUBLIC = new Set(["grpc.health.v1.Health"]);

/** The policy of an RPC from its `(switchyard.api.v1.policy)` option; unannotated is authenticated. */
export function methodPolicy(method: DescMethod): AccessPolicy {
  if (UPSTREAM_PUBLIC.has(method.parent.typeName)) return "public";
  if (!hasOption(method, policyOption)) return "authenticated";
  switch (getOption(method, policyOption)) {
    case Policy.PUBLIC:
      return "public";
    case Policy.ADMIN:
      return "admin";
    case Policy.INTERNAL:
      return "internal";
    default:
      return "authenticated";
  }
}

/** The OpenAPI `security` of an operation with this policy (public: none). */
export function openApiSecurity(p: AccessPolicy): Record<string, string[]>[] {
  return p === "public" ? [] : [{ bearer: [] }];
}
