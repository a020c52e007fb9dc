import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { LoadBalancerService, ServerService } from "../../../gen/switchyard/servers/v1/servers_service_pb.ts";
import { LoadBalancerAlgorithm, ServerKind, ServerStatus, type Server } from "../../../gen/switchyard/servers/v1/servers_pb.ts";
import { Card, Empty, ErrorBox, Page, ago, durationOf } from "../ui.tsx";

const ALGORITHMS = [
  LoadBalancerAlgorithm.ROUND_ROBIN,
  LoadBalancerAlgorithm.LEAST_CONNECTIONS,
  LoadBalancerAlgorithm.WEIGHTED_ROUND_ROBIN,
  LoadBalancerAlgorithm.RANDOM,
  LoadBalancerAlgorithm.POWER_OF_TWO_CHOICES,
];
const word = (s: string) => s.toLowerCase().replace(/_/g, " ");

export function Workers() {
  const qc = useQueryClient();
  const refresh = () => void qc.invalidateQueries();
  const list = useQuery(ServerService.method.listServers, { pageSize: 500 }, { refetchInterval: 3000, retry: false });
  const lb = useQuery(LoadBalancerService.method.getLoadBalancerStatus, {}, { refetchInterval: 3000, retry: false });
  const maintenance = useMutation(ServerService.method.setMaintenance, { onSuccess: refresh });
  const algorithm = useMutation(LoadBalancerService.method.setLoadBalancerAlgorithm, { onSuccess: refresh });
  const servers = list.data?.servers ?? [];
  const status = lb.data?.status;
  const maxLoad = Math.max(1, ...(status?.servers ?? []).map((s) => s.activeTasks));

  return (
    <Page title="Workers and servers">
      <ErrorBox error={list.error} what="The server registry" />
      <ErrorBox error={maintenance.error ?? algorithm.error} />
      {list.data && servers.length === 0 && <Empty>No server or worker registered. Workers appear when they connect or call /worker/register; backends via POST /api/servers.</Empty>}
      {servers.length > 0 && (
        <div className="table-wrap">
          <table aria-label="servers">
            <thead>
              <tr>
                <th scope="col">name</th>
                <th scope="col">kind</th>
                <th scope="col">status</th>
                <th scope="col">active / max</th>
                <th scope="col">load</th>
                <th scope="col">cpu · mem · gpu</th>
                <th scope="col">last heartbeat</th>
                <th scope="col">capabilities · groups</th>
                <th scope="col">
                  <span className="sr-only">actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {servers.map((s) => (
                <ServerRow key={s.id} s={s} onMaintenance={(enabled) => maintenance.mutate({ id: s.id, enabled, reason: enabled ? "set from the dashboard" : "" })} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="grid">
        <Card title="Load balancer" wide>
          <ErrorBox error={lb.error} what="The load balancer" />
          {status && (
            <>
              <form className="filters" onSubmit={(e) => e.preventDefault()}>
                <label>
                  Algorithm
                  <select
                    aria-label="load-balancing algorithm"
                    value={status.algorithm}
                    onChange={(e) => algorithm.mutate({ algorithm: Number(e.target.value) as LoadBalancerAlgorithm })}
                  >
                    {ALGORITHMS.map((a) => (
                      <option key={a} value={a}>
                        {word(LoadBalancerAlgorithm[a])}
                      </option>
                    ))}
                  </select>
                </label>
                <span className="muted">
                  {String(status.totalActiveTasks)} active of {String(status.totalCapacity)} · average load {(status.averageLoad * 100).toFixed(0)} % · {status.availableCount} available
                </span>
              </form>
              {status.servers.length === 0 ? (
                <Empty>No backend to balance over yet.</Empty>
              ) : (
                <ul className="bars" aria-label="distribution">
                  {status.servers.map((s) => (
                    <li key={s.serverId}>
                      <span className="bar-label">
                        {s.name} <span className="muted">w{s.weight}</span>
                      </span>
                      <span className="bar" style={{ width: `${(100 * s.activeTasks) / maxLoad}%` }} aria-hidden="true" />
                      <span className="muted">
                        {s.activeTasks}/{s.maxConcurrent || "∞"} · {(s.load * 100).toFixed(0)} % {s.available ? "" : "· unavailable"}
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </>
          )}
        </Card>
      </div>
    </Page>
  );
}

function ServerRow({ s, onMaintenance }: { s: Server; onMaintenance(enabled: boolean): void }) {
  const st = ServerStatus[s.status] ?? "UNSPECIFIED";
  const load = s.lastLoad;
  const pct = (v: number | undefined) => (v === undefined ? "—" : `${v.toFixed(0)}%`);
  return (
    <tr data-server={s.name} data-status={st.toLowerCase()}>
      <td>
        <strong>{s.name}</strong>
        <div className="muted">
          <code>{s.id}</code>
        </div>
      </td>
      <td>{word(ServerKind[s.kind] ?? "")}</td>
      <td>
        <span className={`badge st-${st.toLowerCase()}`}>{word(st)}</span>
        {s.maintenance?.reason && <div className="muted">{s.maintenance.reason}</div>}
      </td>
      <td>
        {s.activeTasks}/{s.maxConcurrent || "∞"}
      </td>
      <td>{(s.currentLoad * 100).toFixed(0)} %</td>
      <td>
        {pct(load?.cpuPercent)} · {pct(load?.memoryPercent)} · {pct(load?.gpuPercent)}
      </td>
      <td>
        {ago(s.lastHeartbeatTime)}
        <div className="muted">up {durationOf(s.uptime)}</div>
      </td>
      <td>
        {s.capabilities.join(", ") || "—"}
        <div className="muted">{s.groups.join(", ")}</div>
      </td>
      <td>
        {s.status === ServerStatus.MAINTENANCE ? (
          <button type="button" onClick={() => onMaintenance(false)} aria-label={`end maintenance of ${s.name}`}>
            End maintenance
          </button>
        ) : (
          <button type="button" onClick={() => onMaintenance(true)} aria-label={`start maintenance of ${s.name}`}>
            Maintenance
          </button>
        )}
      </td>
    </tr>
  );
}
