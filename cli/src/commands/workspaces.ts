// Workspaces: projects (ProjectService), their snapshots (SnapshotService), drift reports (WorkspaceService).
import type { Command } from "commander";
import { ProjectSchema } from "../../../gen/switchyard/workspaces/v1/projects_pb.js";
import { GetProjectResponseSchema, ProjectService } from "../../../gen/switchyard/workspaces/v1/project_service_pb.js";
import { SnapshotSchema } from "../../../gen/switchyard/workspaces/v1/snapshots_pb.js";
import { SnapshotService } from "../../../gen/switchyard/workspaces/v1/snapshot_service_pb.js";
import { DriftReportSchema } from "../../../gen/switchyard/workspaces/v1/workspaces_pb.js";
import { WorkspaceService } from "../../../gen/switchyard/workspaces/v1/workspace_service_pb.js";
import { intArg, type Ctx } from "../context.ts";
import { render, type Column } from "../output.ts";

const PROJECT_COLUMNS: Column[] = [
  ["ID", (p) => p.id],
  ["NAME", (p) => p.name],
  ["MAIN WORKSPACE", (p) => p.main_workspace_id],
  ["LAST SNAPSHOT", (p) => p.last_snapshot_id],
  ["UPDATED", (p) => p.updated_at ?? ""],
];
const SNAPSHOT_COLUMNS: Column[] = [
  ["ID", (s) => s.id],
  ["WORKSPACE", (s) => s.workspace_id],
  ["SOURCE", (s) => s.source],
  ["PARENT", (s) => s.parent_snapshot_id],
  ["CREATED", (s) => s.created_at ?? ""],
  ["SUMMARY", (s) => s.summary],
];
const DRIFT_COLUMNS: Column[] = [
  ["ID", (d) => d.id],
  ["ADDED", (d) => d.files_added],
  ["MODIFIED", (d) => d.files_modified],
  ["DELETED", (d) => d.files_deleted],
  ["BYTES", (d) => d.bytes_changed],
  ["CREATED", (d) => d.created_at ?? ""],
  ["SUMMARY", (d) => d.summary],
];

export function registerWorkspaces(program: Command, ctx: () => Ctx): void {
  const ws = program.command("workspaces").description("workspaces: projects, snapshots, drift");
  const projects = ws.command("projects").description("projects (list, get)");
  const listProjects = async (o: { limit: string }) => {
    const c = ctx();
    const limit = intArg(o.limit, "--limit", 1, 100_000)!;
    const out: unknown[] = [];
    let pageToken = "";
    do {
      const res = await c.client(ProjectService).listProjects({ pageSize: Math.min(100, limit - out.length), pageToken }, { timeoutMs: c.timeoutMs });
      out.push(...res.projects.map((p) => c.json(ProjectSchema, p)));
      pageToken = res.nextPageToken;
    } while (pageToken && out.length < limit);
    render(c.out, out as never, PROJECT_COLUMNS);
  };
  projects.option("-l, --limit <n>", "most projects to show", "1000").action(listProjects);
  projects.command("list").description("list projects").option("-l, --limit <n>", "most projects to show", "1000").action(listProjects);
  projects
    .command("get <id>")
    .description("show a project (JSON/YAML: with its workspaces, snapshots and events)")
    .action(async (id: string) => {
      const c = ctx();
      const res = c.json(GetProjectResponseSchema, await c.client(ProjectService).getProject({ projectId: id }, { timeoutMs: c.timeoutMs })) as Record<string, unknown>;
      if (c.out.format !== "table") return render(c.out, res as never, []);
      render(c.out, res.project as never, PROJECT_COLUMNS);
    });

  ws.command("snapshots <project-id>")
    .description("a project's snapshots, newest first")
    .option("-l, --limit <n>", "most snapshots to show", "100")
    .action(async (projectId: string, o) => {
      const c = ctx();
      const limit = intArg(o.limit, "--limit", 1, 100_000)!;
      const out: unknown[] = [];
      let pageToken = "";
      do {
        const res = await c.client(SnapshotService).listSnapshots({ projectId, limit: Math.min(100, limit - out.length), pageToken }, { timeoutMs: c.timeoutMs });
        out.push(...res.snapshots.map((s) => c.json(SnapshotSchema, s)));
        pageToken = res.nextPageToken;
      } while (pageToken && out.length < limit);
      render(c.out, out as never, SNAPSHOT_COLUMNS);
    });

  ws.command("drift <workspace-id>")
    .description("a workspace's drift reports, newest first")
    .option("-l, --limit <n>", "most reports to show", "20")
    .action(async (workspaceId: string, o) => {
      const c = ctx();
      const limit = intArg(o.limit, "--limit", 1, 1000)!;
      const res = await c.client(WorkspaceService).listDriftReports({ workspaceId, limit }, { timeoutMs: c.timeoutMs });
      render(c.out, res.driftReports.map((d) => c.json(DriftReportSchema, d)) as never, DRIFT_COLUMNS);
    });
}
