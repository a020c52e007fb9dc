import type { DescService } from "@bufbuild/protobuf";
import * as grpcHealth from "../../gen/grpc/health/v1/health_pb.js";
import * as switchyardAgentPoolService from "../../gen/switchyard/agents/v1/agent_pool_service_pb.js";
import * as switchyardAgentSessionService from "../../gen/switchyard/agents/v1/agent_session_service_pb.js";
import * as switchyardIntegrationService from "../../gen/switchyard/agents/v1/integration_service_pb.js";
import * as switchyardQuotaService from "../../gen/switchyard/agents/v1/quota_service_pb.js";
import * as switchyardAuthService from "../../gen/switchyard/auth/v1/auth_service_pb.js";
import * as switchyardLeaseService from "../../gen/switchyard/mail/v1/lease_service_pb.js";
import * as switchyardMailService from "../../gen/switchyard/mail/v1/mail_service_pb.js";
import * as switchyardMemoryService from "../../gen/switchyard/memory/v1/memory_service_pb.js";
import * as switchyardServersService from "../../gen/switchyard/servers/v1/servers_service_pb.js";
import * as switchyardSystemService from "../../gen/switchyard/system/v1/system_service_pb.js";
import * as switchyardQueuesService from "../../gen/switchyard/tasks/v1/queues_service_pb.js";
import * as switchyardScheduleService from "../../gen/switchyard/tasks/v1/schedule_service_pb.js";
import * as switchyardTasksService from "../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import * as switchyardActionItemService from "../../gen/switchyard/workspaces/v1/action_item_service_pb.js";
import * as switchyardAtlasService from "../../gen/switchyard/workspaces/v1/atlas_service_pb.js";
import * as switchyardBlobService from "../../gen/switchyard/workspaces/v1/blob_service_pb.js";
import * as switchyardConversationService from "../../gen/switchyard/workspaces/v1/conversation_service_pb.js";
import * as switchyardInfrastructureService from "../../gen/switchyard/workspaces/v1/infrastructure_service_pb.js";
import * as switchyardInsightService from "../../gen/switchyard/workspaces/v1/insight_service_pb.js";
import * as switchyardProjectService from "../../gen/switchyard/workspaces/v1/project_service_pb.js";
import * as switchyardSnapshotService from "../../gen/switchyard/workspaces/v1/snapshot_service_pb.js";
import * as switchyardWorkspaceService from "../../gen/switchyard/workspaces/v1/workspace_service_pb.js";

// Imported by name, not found by a glob at runtime, so the production bundle holds them too;
// services.test.ts fails when a generated file declares a service that is missing here.
const MODULES: Record<string, unknown>[] = [
  grpcHealth,
  switchyardAgentPoolService,
  switchyardAgentSessionService,
  switchyardIntegrationService,
  switchyardQuotaService,
  switchyardAuthService,
  switchyardLeaseService,
  switchyardMailService,
  switchyardMemoryService,
  switchyardServersService,
  switchyardSystemService,
  switchyardQueuesService,
  switchyardScheduleService,
  switchyardTasksService,
  switchyardActionItemService,
  switchyardAtlasService,
  switchyardBlobService,
  switchyardConversationService,
  switchyardInfrastructureService,
  switchyardInsightService,
  switchyardProjectService,
  switchyardSnapshotService,
  switchyardWorkspaceService,
];

/**
 * Every service declared in proto/, from the generated code: the server registers all of them,
 * so an RPC whose domain is not built yet still answers (unimplemented, naming itself).
 */
export function allServices(): DescService[] {
  const services = new Map<string, DescService>();
  for (const mod of MODULES) for (const value of Object.values(mod)) if (isService(value)) services.set(value.typeName, value);
  return [...services.values()];
}

export function isService(value: unknown): value is DescService {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "service";
}
