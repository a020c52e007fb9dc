import { useState, type FormEvent } from "react";
import { useQuery } from "@connectrpc/connect-query";
import { toJson, type DescMessage, type DescMethodUnary } from "@bufbuild/protobuf";
import { ServerService, LoadBalancerService } from "../../../gen/switchyard/servers/v1/servers_service_pb.ts";
import { MemoryService } from "../../../gen/switchyard/memory/v1/memory_service_pb.ts";
import { ProjectService } from "../../../gen/switchyard/workspaces/v1/project_service_pb.ts";
import { AgentSessionService } from "../../../gen/switchyard/agents/v1/agent_session_service_pb.ts";
import { Card, Empty, ErrorBox, Json, Page, RecordTable } from "../ui.tsx";
import { client } from "../transport.ts";

/**
 * Pages of domains whose shapes the dashboard shows generically: each lists what its service
 * answers (as JSON records) and says so plainly when the service is not deployed yet, so the
 * pages grow with the server without a dashboard release.
 */
function Listing<I extends DescMessage, O extends DescMessage>({ title, method, input, pick }: { title: string; method: DescMethodUnary<I, O>; input: Record<string, unknown>; pick: string }) {
  const q = useQuery(method, input as never, { refetchInterval: 5000, retry: false });
  const json = q.data ? (toJson(method.output, q.data as never, { alwaysEmitImplicit: false }) as Record<string, unknown>) : undefined;
  const rows = (json?.[pick] as Record<string, unknown>[] | undefined) ?? [];
  return (
    <Card title={title} wide>
      <ErrorBox error={q.error} what={title} />
      {json && rows.length === 0 && <Empty>Nothing here yet.</Empty>}
      {rows.length > 0 && <RecordTable rows={rows} label={title} />}
    </Card>
  );
}

export function Workers() {
  const lb = useQuery(LoadBalancerService.method.getLoadBalancerStatus, {}, { refetchInterval: 5000, retry: false });
  return (
    <Page title="Workers and servers">
      <div className="grid">
        <Listing title="Registry" method={ServerService.method.listServers} input={{ pageSize: 200 }} pick="servers" />
        <Card title="Load balancer" wide>
          <ErrorBox error={lb.error} what="The load balancer" />
          {lb.data && <Json value={toJson(LoadBalancerService.method.getLoadBalancerStatus.output, lb.data)} />}
        </Card>
      </div>
    </Page>
  );
}

export function Memory() {
  const [query, setQuery] = useState("");
  const [result, setResult] = useState<unknown>();
  const [error, setError] = useState<unknown>();
  const stats = useQuery(MemoryService.method.getMemoryStats, {}, { retry: false });
  const search = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const r = await client(MemoryService).searchMemories({ query } as never);
      setResult(toJson(MemoryService.method.searchMemories.output, r));
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Page title="Memory">
      <div className="grid">
        <Card title="Search" wide>
          <form className="filters" onSubmit={search}>
            <label>
              Full-text query <input value={query} onChange={(e) => setQuery(e.target.value)} />
            </label>
            <button type="submit">Search</button>
          </form>
          <ErrorBox error={error} what="Memory search" />
          {result !== undefined && <Json value={result} />}
        </Card>
        <Card title="Stats" wide>
          <ErrorBox error={stats.error} what="Memory" />
          {stats.data && <Json value={toJson(MemoryService.method.getMemoryStats.output, stats.data)} />}
        </Card>
      </div>
    </Page>
  );
}

export function Workspaces() {
  return (
    <Page title="Workspaces">
      <div className="grid">
        <Listing title="Projects" method={ProjectService.method.listProjects} input={{}} pick="projects" />
      </div>
    </Page>
  );
}

export function Agents() {
  return (
    <Page title="Agent sessions">
      <div className="grid">
        <Listing title="Sessions" method={AgentSessionService.method.listSessions} input={{}} pick="sessions" />
      </div>
    </Page>
  );
}
