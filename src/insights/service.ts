import type { ServiceImpl } from "@connectrpc/connect";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { AppError } from "../core/errors.ts";
import { page as pageOf } from "./checks.ts";
import { ActionItemService } from "../../gen/switchyard/workspaces/v1/action_item_service_pb.js";
import { InfrastructureService } from "../../gen/switchyard/workspaces/v1/infrastructure_service_pb.js";
import { ConversationService } from "../../gen/switchyard/workspaces/v1/conversation_service_pb.js";
import { InsightService } from "../../gen/switchyard/workspaces/v1/insight_service_pb.js";
import { invalidArgument } from "../core/errors.ts";
import { principalOf, tenantOf } from "../core/principal.ts";
import * as infra from "./infrastructure.ts";
import * as actions from "./action-items.ts";
import * as atlas from "./atlas.ts";
import { WorkspaceService } from "../../gen/switchyard/workspaces/v1/workspace_service_pb.js";
import { getWorkspace } from "../workspaces/workspaces.ts";
import * as schedules from "./schedules.ts";
import { ScheduleService } from "../../gen/switchyard/tasks/v1/schedule_service_pb.js";
import { ScheduleSchema } from "../../gen/switchyard/tasks/v1/schedule_service_pb.js";
import { create, fromJson, toJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { ListValueSchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import type { Schedule as DomainSchedule } from "./types.ts";
import { AtlasService } from "../../gen/switchyard/workspaces/v1/atlas_service_pb.js";
import type { InsightsDomain } from "./context.ts";
import * as conv from "./conversations.ts";
import * as cv from "./convert.ts";
import { extractDecisions, listDecisions } from "./decisions.ts";
import { analyzeDrift } from "./drift-analysis.ts";
import { generateNextSteps, listNextSteps, updateNextStep } from "./next-steps.ts";

/** InsightService: next steps, decisions, drift analysis (task-backed calls). */
export function insightService(d: InsightsDomain): Partial<ServiceImpl<typeof InsightService>> {
  return {
    listNextSteps(req, ctx) {
      const r = listNextSteps(d, tenantOf(ctx), req.projectId, req.status, req.pageSize, req.pageToken);
      return { nextSteps: r.items.map(cv.nextStepMessage), nextPageToken: r.next };
    },
    async generateNextSteps(req, ctx) {
      const r = await generateNextSteps(d, tenantOf(ctx), req.projectId, { maxCount: req.maxCount, requestId: req.requestId });
      return { nextSteps: r.steps.map(cv.nextStepMessage), generatedCount: r.steps.length, taskId: r.taskId };
    },
    async updateNextStep(req, ctx) {
      if (!req.status) throw invalidArgument("status", "is required");
      await updateNextStep(d, tenantOf(ctx), req.projectId, req.nextStepId, { status: req.status });
      return { success: true };
    },
    async submitNextStepFeedback(req, ctx) {
      if (req.helpful === undefined) throw invalidArgument("helpful", "is required");
      await updateNextStep(d, tenantOf(ctx), req.projectId, req.nextStepId, { helpful: req.helpful });
      return { success: true };
    },
    listDecisions(req, ctx) {
      const tenant = tenantOf(ctx);
      const r = listDecisions(d, tenant, req.projectId, req.pageSize, req.pageToken);
      const links = req.includeLinks ? atlas.decisionLinks(d, tenant, req.projectId) : undefined;
      return { decisions: r.items.map((x) => cv.decisionMessage(x, links ? (links.get(x.id) ?? []) : undefined)), nextPageToken: r.next };
    },
    async extractDecisions(req, ctx) {
      const r = await extractDecisions(d, tenantOf(ctx), req.projectId, req.requestId);
      return { decisions: r.decisions.map((x) => cv.decisionMessage(x, [])), extractedCount: r.decisions.length, taskId: r.taskId };
    },
    async analyzeWorkspaceDrift(req, ctx) {
      return { analysis: cv.driftAnalysisMessage(await analyzeDrift(d, tenantOf(ctx), req.workspaceId, req.includeDirty)) };
    },
  };
}

/** ConversationService: conversations, messages (turns as tasks), events. */
export function conversationService(d: InsightsDomain): Partial<ServiceImpl<typeof ConversationService>> {
  const view = (tenant: string, c: ReturnType<typeof conv.getConversation>) => cv.conversationMessage(d.workspaces, tenant, c, d.store.countMessages(tenant, c.id));
  return {
    async createConversation(req, ctx) {
      const tenant = tenantOf(ctx);
      return { conversation: view(tenant, await conv.createConversation(d, tenant, { workspaceId: req.workspaceId, title: req.title })) };
    },
    listConversations(req, ctx) {
      const tenant = tenantOf(ctx);
      const r = conv.listConversations(d, tenant, req.limit, req.offset, req.pageToken);
      return { conversations: r.items.map((c) => view(tenant, c)), nextPageToken: r.next };
    },
    getConversation(req, ctx) {
      const tenant = tenantOf(ctx);
      return { conversation: view(tenant, conv.getConversation(d, tenant, req.conversationId)) };
    },
    async updateConversation(req, ctx) {
      await conv.updateConversation(d, tenantOf(ctx), req.conversationId, { title: req.title, workspaceId: req.workspaceId });
      return { success: true };
    },
    listConversationMessages(req, ctx) {
      const r = conv.listMessages(d, tenantOf(ctx), req.conversationId, req.limit, req.before ? timestampMs(req.before) : 0, req.pageToken);
      return { messages: r.items.map(cv.messageMessage), nextPageToken: r.next, hasMore: r.hasMore };
    },
    async sendConversationMessage(req, ctx) {
      const r = await conv.sendMessage(d, tenantOf(ctx), req.conversationId, req.prompt, req.requestId);
      return { userMessage: cv.messageMessage(r.user), assistantMessage: cv.messageMessage(r.assistant), taskId: r.taskId };
    },
    async clearConversation(req, ctx) {
      return { success: true, clearedCount: await conv.clearConversation(d, tenantOf(ctx), req.conversationId) };
    },
    getConversationTimeline(req, ctx) {
      const r = conv.timeline(d, tenantOf(ctx), req.conversationId, req.pageSize, req.pageToken);
      return { timeline: r.items.map(cv.timelineMessage), nextPageToken: r.next };
    },
    listOpencodeMessages(req, ctx) {
      // The parts Switchyard knows of each message: its text, and the files a reply changed.
      const tenant = tenantOf(ctx);
      conv.getConversation(d, tenant, req.conversationId);
      const { limit, offset } = pageOf(req.pageSize, req.pageToken, 50, 200);
      const all = d.store.listMessages(tenant, req.conversationId, 10_000, 0, 0);
      const items = all.slice(offset, offset + limit).map((m) => ({
        messageId: m.id,
        opencodeMessageId: m.id,
        parts: [{ type: "text", text: m.content }, ...(m.changedFiles.length ? [{ type: "file_change", paths: m.changedFiles }] : [])] as JsonObject[],
      }));
      return { messages: items, nextPageToken: offset + limit < all.length ? String(offset + limit) : "" };
    },
    async replyOpencodeQuestion(req, ctx) {
      await conv.resolveQuestion(d, tenantOf(ctx), req.conversationId, req.questionId, req.answers.map((l) => toJson(ListValueSchema, l) as unknown[]));
      return { success: true };
    },
    async rejectOpencodeQuestion(req, ctx) {
      await conv.resolveQuestion(d, tenantOf(ctx), req.conversationId, req.questionId, undefined);
      return { success: true };
    },
    async getConversationProjectInfo(req, ctx) {
      const r = await conv.projectInfo(d, tenantOf(ctx), req.conversationId);
      return { ...r, totalBytes: BigInt(r.totalBytes) };
    },
    listConversationDeployments(req, ctx) {
      const tenant = tenantOf(ctx);
      conv.getConversation(d, tenant, req.conversationId);
      const { limit, offset } = pageOf(req.pageSize, req.pageToken, 20, 100);
      const items = d.store.deploymentsOfConversation(tenant, req.conversationId, limit + 1, offset);
      return { deployments: items.slice(0, limit).map(cv.deploymentMessage), nextPageToken: items.length > limit ? String(offset + limit) : "" };
    },
    async deployConversation(req, ctx) {
      const tenant = tenantOf(ctx);
      const c = conv.getConversation(d, tenant, req.conversationId);
      await conv.snapshotConversation(d, tenant, c.id, { generateSummary: false, requestId: req.requestId ? `deploy:${req.requestId}` : "" });
      const r = await infra.deployProject(d, tenant, c.projectId, { workspaceId: c.workspaceId, source: "chat", requestId: req.requestId ? `${c.id}:${req.requestId}` : "", conversationId: c.id, wait: false });
      return { deployment: cv.deploymentMessage(r.deployment) };
    },
    async listDeploymentLogs(req, ctx) {
      const tenant = tenantOf(ctx);
      conv.getConversation(d, tenant, req.conversationId);
      const x = d.store.getDeployment(tenant, req.deploymentId);
      if (!x || x.conversationId !== req.conversationId) throw new AppError("not_found", "DEPLOYMENT_NOT_FOUND", `deployment ${req.deploymentId} not found`, { id: req.deploymentId });
      const { limit, offset } = pageOf(req.pageSize, req.pageToken, 100, 1000);
      const all = await infra.deploymentLog(d, tenant, x);
      return {
        logs: all.slice(offset, offset + limit).map((l) => ({ sequence: BigInt(l.sequence), timestamp: timestampFromMs(l.timestamp), stream: l.stream, level: l.level, message: l.message })),
        nextPageToken: offset + limit < all.length ? String(offset + limit) : "",
      };
    },
    async createConversationSnapshot(req, ctx) {
      return conv.snapshotConversation(d, tenantOf(ctx), req.conversationId, { generateSummary: req.generateSummary, requestId: req.requestId });
    },
    async *streamConversation(req, ctx) {
      if (req.afterSequence < 0n) throw invalidArgument("after_sequence", "must not be negative");
      for await (const e of conv.watchConversation(d, tenantOf(ctx), req.conversationId, Number(req.afterSequence), ctx.signal)) yield { event: cv.eventMessage(e) };
    },
  };
}

/** ActionItemService: items from drift, analysis and failed deployments; runs as tasks. */
export function actionItemService(d: InsightsDomain): Partial<ServiceImpl<typeof ActionItemService>> {
  return {
    async listActionItems(req, ctx) {
      const r = await actions.listActionItems(d, tenantOf(ctx), { workspaceId: req.workspaceId, pageSize: req.pageSize, pageToken: req.pageToken });
      return { items: r.items.map(cv.actionItemMessage), nextPageToken: r.next };
    },
    async dismissActionItem(req, ctx) {
      await actions.dismissActionItem(d, tenantOf(ctx), req.itemId);
      return { success: true };
    },
    async createActionItemRun(req, ctx) {
      return { run: cv.runMessage(await actions.createRun(d, tenantOf(ctx), req.itemId, req.requestId), true) };
    },
    async listActionItemRuns(req, ctx) {
      const r = await actions.listRuns(d, tenantOf(ctx), req.itemId, req.pageSize, req.pageToken);
      return { runs: r.items.map((x) => cv.runMessage(x, false)), nextPageToken: r.next };
    },
    getActionItemRun(req, ctx) {
      return { run: cv.runMessage(actions.getRun(d, tenantOf(ctx), req.runId), true) };
    },
    async applyActionItemRun(req, ctx) {
      await actions.applyRun(d, tenantOf(ctx), req.runId);
      return { success: true };
    },
  };
}

/** InfrastructureService: credentials (sealed), settings, deployments (a task chain), resources, detection. */
export function infrastructureService(d: InsightsDomain): Partial<ServiceImpl<typeof InfrastructureService>> {
  const resource = async (tenant: string, r: Parameters<typeof infra.maskedConnection>[2]) => cv.resourceMessage(r, await infra.maskedConnection(d, tenant, r));
  return {
    listProviderCredentials(_req, ctx) {
      return { credentials: infra.listCredentials(d, tenantOf(ctx)).map(cv.credentialMessage) };
    },
    async setProviderCredential(req, ctx) {
      const p = principalOf(ctx);
      const id = await infra.setCredential(d, p.tenant, p.user, { provider: req.provider, apiToken: req.apiToken, metadata: (req.metadata ?? {}) as Record<string, unknown> });
      return { success: true, id };
    },
    async deleteProviderCredential(req, ctx) {
      await infra.deleteCredential(d, tenantOf(ctx), req.provider);
      return { success: true };
    },
    getDeploymentSettings(req, ctx) {
      return { settings: cv.settingsMessage(infra.getSettings(d, tenantOf(ctx), req.workspaceId)) };
    },
    async updateDeploymentSettings(req, ctx) {
      const s = await infra.updateSettings(d, tenantOf(ctx), req.workspaceId, { autoDeploy: req.autoDeploy, runtimeOverride: req.runtimeOverride, buildCommand: req.buildCommand, startCommand: req.startCommand });
      return { settings: cv.settingsMessage(s) };
    },
    listDeployments(req, ctx) {
      if (req.limit < 0) throw invalidArgument("limit", "must not be negative");
      const r = infra.listDeployments(d, tenantOf(ctx), req.workspaceId, req.limit, req.pageToken);
      return { deployments: r.items.map(cv.deploymentMessage), nextPageToken: r.next };
    },
    async updateDeploymentStatus(req, ctx) {
      await infra.updateDeploymentStatus(d, tenantOf(ctx), req.deploymentId, { status: req.status, url: req.url, error: req.error, fencingToken: req.fencingToken === undefined ? undefined : Number(req.fencingToken) });
      return { success: true };
    },
    async listResources(req, ctx) {
      const tenant = tenantOf(ctx);
      const r = infra.listResources(d, tenant, req.projectId, req.pageSize, req.pageToken);
      return { resources: await Promise.all(r.items.map((x) => resource(tenant, x))), nextPageToken: r.next };
    },
    async getResource(req, ctx) {
      const tenant = tenantOf(ctx);
      return { resource: await resource(tenant, infra.getResource(d, tenant, req.projectId, req.resourceId)) };
    },
    async deleteResource(req, ctx) {
      await infra.deleteResource(d, tenantOf(ctx), req.projectId, req.resourceId);
      return { success: true };
    },
    async detectRequirements(req, ctx) {
      const r = await infra.detectRequirements(d, tenantOf(ctx), req.projectId, req.manifestHash);
      const x = r.detection;
      return {
        requirements: x.requirements,
        suggestedResources: r.suggested,
        detection: { manifestHash: x.manifestHash, runtime: x.runtime, framework: x.framework, buildCommand: x.buildCommand, startCommand: x.startCommand, port: x.port, filesScanned: x.filesScanned },
      };
    },
    async deployProject(req, ctx) {
      const tenant = tenantOf(ctx);
      const r = await infra.deployProject(d, tenant, req.projectId, { workspaceId: req.workspaceId, source: req.source, requestId: req.requestId });
      const x = r.deployment;
      return {
        success: x.status === "succeeded", deploymentId: x.id, url: x.url, status: x.status, error: x.error,
        resources: await Promise.all(r.resources.map((y) => resource(tenant, y))), provisionedResources: await Promise.all(r.provisioned.map((y) => resource(tenant, y))),
      };
    },
    async getTaskCredential(req, ctx) {
      return { apiToken: await infra.taskCredential(d, tenantOf(ctx), req.taskId, Number(req.fencingToken), req.provider) };
    },
  };
}

/** AtlasService: the graph Switchyard derives from the manifest, token search, diagrams as tasks. */
export function atlasService(d: InsightsDomain): Partial<ServiceImpl<typeof AtlasService>> {
  return {
    async searchAtlas(req, ctx) {
      return { results: await atlas.searchAtlas(d, tenantOf(ctx), req.projectId, req.query, req.limit) };
    },
    getAtlas(req, ctx) {
      const g = atlas.getAtlas(d, tenantOf(ctx), req.projectId);
      return { concepts: g.concepts.map((c) => cv.conceptMessage(req.projectId, c)), edges: g.edges.map(cv.edgeMessage) };
    },
    async indexAtlas(req, ctx) {
      const r = await atlas.indexAtlas(d, tenantOf(ctx), req.projectId, req.embed);
      return { conceptsCreated: r.conceptsCreated, edgesCreated: r.edgesCreated, chunksCreated: r.chunksCreated, embeddingsCreated: r.embeddingsCreated, snapshotId: r.snapshotId, truncated: r.truncated };
    },
    listDiagrams(req, ctx) {
      const r = atlas.listDiagrams(d, tenantOf(ctx), req.projectId, req.pageSize, req.pageToken);
      return { diagrams: r.items.map(cv.diagramMessage), nextPageToken: r.next };
    },
    async createDiagram(req, ctx) {
      return { diagram: cv.diagramMessage(await atlas.createDiagram(d, tenantOf(ctx), req.projectId, { type: req.type, conceptId: req.conceptId, requestId: req.requestId })) };
    },
  };
}

const scheduleMessage = (s: DomainSchedule) =>
  create(ScheduleSchema, {
    id: s.id, name: s.name, cron: s.cron, queue: s.queue, type: s.type, payload: s.payload === undefined ? undefined : fromJson(ValueSchema, s.payload as JsonValue),
    paused: s.paused, nextRunAt: s.nextRunAt === undefined ? undefined : timestampFromMs(s.nextRunAt), lastRunAt: s.lastRunAt === undefined ? undefined : timestampFromMs(s.lastRunAt),
    lastTaskId: s.lastTaskId, runCount: BigInt(s.runCount), createdAt: timestampFromMs(s.createdAt),
  });

/** ScheduleService: periodic tasks (a task from a template at each cron tick). */
export function scheduleService(d: InsightsDomain): Partial<ServiceImpl<typeof ScheduleService>> {
  return {
    async createSchedule(req, ctx) {
      const s = req.schedule;
      if (!s) throw invalidArgument("schedule", "is required");
      const created = await schedules.createSchedule(d, tenantOf(ctx), {
        name: s.name, cron: s.cron, queue: s.queue, type: s.type, payload: s.payload ? (toJson(ValueSchema, s.payload) as never) : undefined, requestId: req.requestId,
      });
      return { schedule: scheduleMessage(created) };
    },
    listSchedules(req, ctx) {
      const r = schedules.listSchedules(d, tenantOf(ctx), req.pageSize, req.pageToken);
      return { schedules: r.items.map(scheduleMessage), nextPageToken: r.next };
    },
    async pauseSchedule(req, ctx) {
      return { schedule: scheduleMessage(await schedules.setPaused(d, tenantOf(ctx), req.id, true)) };
    },
    async resumeSchedule(req, ctx) {
      return { schedule: scheduleMessage(await schedules.setPaused(d, tenantOf(ctx), req.id, false)) };
    },
    async deleteSchedule(req, ctx) {
      await schedules.deleteSchedule(d, tenantOf(ctx), req.id);
      return { success: true };
    },
  };
}

/** The one `WorkspaceService` method this domain serves: `DeployWorkspace` (the deploy chain, answered at once). */
export function workspaceDeployService(d: InsightsDomain): Partial<ServiceImpl<typeof WorkspaceService>> {
  return {
    async deployWorkspace(req, ctx) {
      const tenant = tenantOf(ctx);
      const w = getWorkspace(d.workspaces, tenant, req.workspaceId);
      const r = await infra.deployProject(d, tenant, w.projectId, { workspaceId: w.id, source: "manual", requestId: req.requestId ? `ws:${w.id}:${req.requestId}` : "", wait: false });
      return { deploymentId: r.deployment.id, status: r.deployment.status };
    },
  };
}
