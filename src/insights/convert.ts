import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  ConversationEventSchema,
  ConversationEventType,
  ConversationMessageSchema,
  ConversationSchema,
  TimelineEntrySchema,
  type Conversation,
  type ConversationEvent,
  type ConversationMessage,
} from "../../gen/switchyard/workspaces/v1/conversations_pb.js";
import { DecisionSchema, DriftAnalysisSchema, NextStepSchema, type Decision, type DriftAnalysis, type NextStep } from "../../gen/switchyard/workspaces/v1/insights_pb.js";
import { ActionItemRunSchema, ActionItemSchema, type ActionItem, type ActionItemRun } from "../../gen/switchyard/workspaces/v1/action_items_pb.js";
import {
  DeploymentSchema,
  DeploymentSettingsSchema,
  InfrastructureResourceSchema,
  ProviderCredentialSchema,
  type Deployment,
  type DeploymentSettings,
  type InfrastructureResource,
  type ProviderCredential,
} from "../../gen/switchyard/workspaces/v1/infrastructure_pb.js";
import { AtlasConceptSchema, AtlasEdgeSchema, DiagramSchema, type AtlasConcept, type AtlasEdge, type Diagram } from "../../gen/switchyard/workspaces/v1/atlas_pb.js";
import type { WorkspaceDomain } from "../workspaces/context.ts";
import { conceptLinks } from "./decisions.ts";
import type { DriftAnalysis as DomainDrift } from "./drift-analysis.ts";
import type * as T from "./types.ts";

const ts = (ms: number | undefined) => (ms === undefined ? undefined : timestampFromMs(ms));

export function nextStepMessage(s: T.NextStep): NextStep {
  return create(NextStepSchema, {
    id: s.id, projectId: s.projectId, title: s.title, description: s.description, rationale: s.rationale, priority: s.priority, category: s.category,
    status: s.status, helpful: s.helpful, taskId: s.taskId, createdAt: ts(s.createdAt), updatedAt: ts(s.updatedAt),
  });
}

/** A decision; `links` its Atlas links (undefined: none asked; empty from the Atlas: the names the worker gave). */
export function decisionMessage(x: T.Decision, links: ReturnType<typeof conceptLinks> | undefined): Decision {
  return create(DecisionSchema, {
    id: x.id, projectId: x.projectId, title: x.title, decision: x.decision, rationale: x.rationale, conversationId: x.conversationId, messageId: x.messageId,
    links: links === undefined ? [] : links.length ? links : conceptLinks(x), createdAt: ts(x.createdAt),
  });
}

export function driftAnalysisMessage(a: DomainDrift): DriftAnalysis {
  const r = a.drift;
  return create(DriftAnalysisSchema, {
    sourceChangesSummary: a.sourceChangesSummary, targetChangesSummary: a.targetChangesSummary, riskLevel: a.riskLevel, canAutoSync: a.canAutoSync,
    recommendation: a.recommendation, conflictingFiles: a.conflictingFiles, sourceWorkspaceId: a.sourceWorkspaceId, taskId: a.taskId, analyzedAt: ts(a.analyzedAt),
    drift: {
      sourceManifestHash: r.sourceManifestHash, targetManifestHash: r.targetManifestHash, added: r.added, modified: r.modified, deleted: r.deleted,
      filesAdded: r.added.length, filesModified: r.modified.length, filesDeleted: r.deleted.length, bytesChanged: BigInt(r.bytesChanged), includesDirty: r.includesDirty,
    },
  });
}

export function conversationMessage(c: T.Conversation, messageCount: number, names: { workspaceName: string; projectName: string }): Conversation {
  return create(ConversationSchema, {
    id: c.id, workspaceId: c.workspaceId, title: c.title, workspaceName: names.workspaceName, projectId: c.projectId, projectName: names.projectName,
    manifestHash: c.manifestHash, messageCount, status: c.status, createdAt: ts(c.createdAt), updatedAt: ts(c.updatedAt),
  });
}

export function messageMessage(m: T.Message): ConversationMessage {
  return create(ConversationMessageSchema, {
    id: m.id, conversationId: m.conversationId, role: m.role, content: m.content, status: m.status, error: m.error, changedFiles: m.changedFiles,
    taskId: m.taskId, createdAt: ts(m.createdAt), completedAt: ts(m.completedAt),
  });
}

const EVENT_TYPES: Record<T.ConversationEventType, ConversationEventType> = {
  message_created: ConversationEventType.MESSAGE_CREATED,
  message_delta: ConversationEventType.MESSAGE_DELTA,
  message_completed: ConversationEventType.MESSAGE_COMPLETED,
  files_changed: ConversationEventType.FILES_CHANGED,
  question_asked: ConversationEventType.QUESTION_ASKED,
  question_resolved: ConversationEventType.QUESTION_RESOLVED,
  cleared: ConversationEventType.CLEARED,
  conversation_updated: ConversationEventType.CONVERSATION_UPDATED,
};

export function eventMessage(e: T.ConversationEvent): ConversationEvent {
  const m = e.data.message as T.Message | undefined;
  const q = e.data.question as T.Question | undefined;
  return create(ConversationEventSchema, {
    question: q ? { id: q.id, messageId: q.messageId, questions: q.questions.map((x) => json(x)), status: q.status, createdAt: ts(q.createdAt) } : undefined,
    sequence: BigInt(e.sequence), type: EVENT_TYPES[e.type], createdAt: ts(e.createdAt), messageId: e.messageId,
    message: m ? messageMessage(m) : undefined, delta: (e.data.delta as string) ?? "", changedFiles: (e.data.changed_files as string[]) ?? [],
  });
}

export function timelineMessage(t: { id: string; type: string; title: string; refId: string; data: Record<string, unknown>; createdAt: number }) {
  return create(TimelineEntrySchema, { id: t.id, type: t.type, title: t.title, refId: t.refId, data: JSON.parse(JSON.stringify(t.data)) as JsonObject, createdAt: ts(t.createdAt) });
}

export function actionItemMessage(i: T.ActionItem): ActionItem {
  return create(ActionItemSchema, {
    id: i.id, type: i.type, severity: i.severity, workspaceId: i.workspaceId, projectId: i.projectId, title: i.title, description: i.description,
    actionLabel: i.actionLabel, actionType: i.actionType, actionData: JSON.parse(JSON.stringify(i.actionData)) as JsonObject, files: i.files, dismissible: true,
    latestRunId: i.latestRunId, createdAt: ts(i.createdAt),
  });
}

/** A run; `withPatch` false leaves the patch out (lists). */
export function runMessage(r: T.Run, withPatch: boolean): ActionItemRun {
  return create(ActionItemRunSchema, {
    id: r.id, actionItemId: r.itemId, workspaceId: r.workspaceId, status: r.status, attemptCount: r.attemptCount, maxAttempts: r.maxAttempts,
    summary: r.result?.summary ?? "", report: r.result?.report ?? "", patch: withPatch ? (r.result?.patch ?? "") : "", checks: r.result?.checks ?? [],
    error: r.error, baseManifestHash: r.baseManifestHash, resultManifestHash: r.resultManifestHash, taskId: r.taskId,
    createdAt: ts(r.createdAt), updatedAt: ts(r.updatedAt), completedAt: ts(r.completedAt),
  });
}

const json = (v: unknown) => JSON.parse(JSON.stringify(v ?? {})) as JsonObject;

export function credentialMessage(c: T.Credential): ProviderCredential {
  return create(ProviderCredentialSchema, { id: c.id, userId: c.userId, provider: c.provider, metadata: json(c.metadata), createdAt: ts(c.createdAt), updatedAt: ts(c.updatedAt) });
}

export function settingsMessage(s: T.DeploySettings): DeploymentSettings {
  return create(DeploymentSettingsSchema, {
    workspaceId: s.workspaceId, autoDeploy: s.autoDeploy, runtimeOverride: s.runtimeOverride, buildCommand: s.buildCommand, startCommand: s.startCommand, updatedAt: s.updatedAt ? ts(s.updatedAt) : undefined,
  });
}

export function deploymentMessage(x: T.Deployment): Deployment {
  return create(DeploymentSchema, {
    id: x.id, workspaceId: x.workspaceId, projectId: x.projectId, snapshotId: x.snapshotId, status: x.status, trigger: x.trigger, url: x.url, error: x.error,
    conversationId: x.conversationId, taskId: x.taskId, startedAt: ts(x.startedAt), completedAt: ts(x.completedAt),
  });
}

export function resourceMessage(r: T.Resource, connection: Record<string, unknown>): InfrastructureResource {
  return create(InfrastructureResourceSchema, {
    id: r.id, projectId: r.projectId, type: r.type, provider: r.provider, name: r.name, status: r.status, providerResourceId: r.providerResourceId,
    connectionInfo: json(connection), envVarKeys: r.envVarKeys, createdAt: ts(r.createdAt), updatedAt: ts(r.updatedAt),
  });
}

export function conceptMessage(projectId: string, c: T.Concept): AtlasConcept {
  return create(AtlasConceptSchema, { id: c.id, projectId, name: c.name, description: c.description, layer: c.layer, path: c.path, parentId: c.parentId, hasEmbedding: false, updatedAt: ts(c.updatedAt) });
}

export function edgeMessage(e: T.Edge): AtlasEdge {
  return create(AtlasEdgeSchema, { id: e.id, sourceId: e.sourceId, targetId: e.targetId, type: e.type, weight: e.weight });
}

export function diagramMessage(x: T.Diagram): Diagram {
  return create(DiagramSchema, {
    id: x.id, projectId: x.projectId, conceptId: x.conceptId, type: x.type, title: x.title,
    nodes: x.nodes.map((n) => ({ id: n.id, label: n.label, conceptId: n.concept_id ?? "", group: n.group ?? "" })),
    edges: x.edges.map((e) => ({ source: e.source, target: e.target, label: e.label ?? "" })), createdAt: ts(x.createdAt),
  });
}
