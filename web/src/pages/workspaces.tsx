import { useQuery } from "@connectrpc/connect-query";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { ProjectService } from "../../../gen/switchyard/workspaces/v1/project_service_pb.ts";
import { WorkspaceService } from "../../../gen/switchyard/workspaces/v1/workspace_service_pb.ts";
import { SnapshotService } from "../../../gen/switchyard/workspaces/v1/snapshot_service_pb.ts";
import type { Snapshot } from "../../../gen/switchyard/workspaces/v1/snapshots_pb.ts";
import type { Workspace } from "../../../gen/switchyard/workspaces/v1/workspaces_pb.ts";
import { Card, Empty, ErrorBox, Page, ago, durationOf } from "../ui.tsx";
import { href } from "../router.ts";

export function Workspaces({ projectId }: { projectId?: string }) {
  return projectId ? <ProjectPage id={projectId} /> : <ProjectList />;
}

function ProjectList() {
  const list = useQuery(ProjectService.method.listProjects, { pageSize: 100 }, { retry: false, refetchInterval: 10_000 });
  return (
    <Page title="Workspaces">
      <ErrorBox error={list.error} what="Projects" />
      {list.data && list.data.projects.length === 0 && <Empty>No project yet. The Fastest CLI creates one with its first snapshot, or POST /v1/projects.</Empty>}
      {list.data && list.data.projects.length > 0 && (
        <div className="table-wrap">
          <table aria-label="projects">
            <thead>
              <tr>
                <th scope="col">project</th>
                <th scope="col">last snapshot</th>
                <th scope="col">updated</th>
              </tr>
            </thead>
            <tbody>
              {list.data.projects.map((p) => (
                <tr key={p.id}>
                  <td>
                    <a href={href("workspaces", p.id)}>{p.name || p.id}</a>
                  </td>
                  <td>
                    <code>{p.lastSnapshotId || "—"}</code>
                  </td>
                  <td>{ago(p.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}

function ProjectPage({ id }: { id: string }) {
  const project = useQuery(ProjectService.method.getProject, { projectId: id }, { retry: false });
  const workspaces = useQuery(WorkspaceService.method.listWorkspaces, { projectId: id, pageSize: 100 }, { retry: false });
  const snapshots = useQuery(SnapshotService.method.listSnapshots, { projectId: id, limit: 100 }, { retry: false });
  const p = project.data?.project;
  return (
    <Page title={`Project ${p?.name ?? id}`} actions={<a href={href("workspaces")}>All projects</a>}>
      <ErrorBox error={project.error ?? workspaces.error ?? snapshots.error} what="This project" />
      <div className="grid">
        <Card title="Workspaces" wide>
          {workspaces.data?.workspaces.length === 0 && <Empty>No workspace.</Empty>}
          <ul className="workspaces">
            {workspaces.data?.workspaces.map((w) => (
              <WorkspaceItem key={w.id} w={w} />
            ))}
          </ul>
        </Card>
        <Card title="Snapshot graph" wide>
          {snapshots.data && snapshots.data.snapshots.length === 0 && <Empty>No snapshot yet.</Empty>}
          {snapshots.data && snapshots.data.snapshots.length > 0 && <SnapshotDag snapshots={snapshots.data.snapshots} workspaces={workspaces.data?.workspaces ?? []} />}
        </Card>
      </div>
    </Page>
  );
}

function WorkspaceItem({ w }: { w: Workspace }) {
  const got = useQuery(WorkspaceService.method.getWorkspace, { workspaceId: w.id }, { retry: false });
  const d = got.data?.drift;
  return (
    <li data-workspace={w.id}>
      <strong>{w.name || w.id}</strong> {w.isMain && <span className="badge s-succeeded">main</span>} <span className="muted">seen {ago(w.lastSeenAt)}</span>
      {d ? (
        <div className="muted">
          drift: +{d.filesAdded} ~{d.filesModified} −{d.filesDeleted} ({(Number(d.bytesChanged) / 1024).toFixed(1)} KB) · risk {d.riskLevel || "—"} · overlap {(d.overlapRatio * 100).toFixed(0)} % ·{" "}
          {d.isStale ? `stale (${durationOf(d.staleness)})` : "fresh"}
        </div>
      ) : (
        <div className="muted">no drift report</div>
      )}
    </li>
  );
}

/**
 * The snapshot DAG: one column per generation (longest path from a root), edges from each
 * parent; workspace heads are outlined. Drawn as SVG; large graphs scroll.
 */
export function SnapshotDag({ snapshots, workspaces }: { snapshots: Snapshot[]; workspaces: Workspace[] }) {
  const byId = new Map(snapshots.map((s) => [s.id, s]));
  const parents = (s: Snapshot) => (s.parentSnapshotIds.length ? s.parentSnapshotIds : s.parentSnapshotId ? [s.parentSnapshotId] : []).filter((p) => byId.has(p));
  const depth = new Map<string, number>();
  const ordered = [...snapshots].sort((a, b) => (a.createdAt ? timestampMs(a.createdAt) : 0) - (b.createdAt ? timestampMs(b.createdAt) : 0));
  const depthOf = (s: Snapshot, seen = new Set<string>()): number => {
    const known = depth.get(s.id);
    if (known !== undefined) return known;
    if (seen.has(s.id)) return 0;
    seen.add(s.id);
    const d = Math.max(-1, ...parents(s).map((p) => depthOf(byId.get(p)!, seen))) + 1;
    depth.set(s.id, d);
    return d;
  };
  for (const s of ordered) depthOf(s);
  const rows = new Map<number, number>();
  const pos = new Map<string, { x: number; y: number }>();
  for (const s of ordered) {
    const d = depth.get(s.id)!;
    const r = rows.get(d) ?? 0;
    rows.set(d, r + 1);
    pos.set(s.id, { x: 20 + d * 130, y: 20 + r * 44 });
  }
  const heads = new Set(workspaces.map((w) => w.lastSnapshotId));
  const width = 40 + (Math.max(0, ...depth.values()) + 1) * 130;
  const height = 40 + Math.max(1, ...rows.values()) * 44;
  return (
    <div className="table-wrap">
      <svg className="graph dag" width={width} height={height} role="img" aria-label={`snapshot graph of ${snapshots.length} snapshots`}>
        {ordered.flatMap((s) =>
          parents(s).map((p) => {
            const a = pos.get(p)!;
            const b = pos.get(s.id)!;
            return <line key={`${p}-${s.id}`} x1={a.x + 100} y1={a.y + 12} x2={b.x} y2={b.y + 12} className="edge" />;
          }),
        )}
        {ordered.map((s) => {
          const { x, y } = pos.get(s.id)!;
          return (
            <g key={s.id} data-snapshot={s.id}>
              <title>{`${s.id}${s.summary ? `: ${s.summary}` : ""}`}</title>
              <rect x={x} y={y} width={100} height={24} rx={5} className={heads.has(s.id) ? "node self" : "node"} />
              <text x={x + 6} y={y + 16}>
                {s.id.length > 13 ? s.id.slice(0, 12) + "…" : s.id}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
