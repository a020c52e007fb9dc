import { useState, type FormEvent } from "react";
import { useQuery } from "@connectrpc/connect-query";
import { MemoryService } from "../../../gen/switchyard/memory/v1/memory_service_pb.ts";
import type { MemorySearchResult } from "../../../gen/switchyard/memory/v1/memory_pb.ts";
import { client } from "../transport.ts";
import { Card, Empty, ErrorBox, Page, time } from "../ui.tsx";

type Mode = "text" | "semantic" | "hybrid";

export function Memory() {
  const [mode, setMode] = useState<Mode>("hybrid");
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<MemorySearchResult[] | undefined>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const stats = useQuery(MemoryService.method.getMemoryStats, {}, { retry: false, refetchInterval: 10_000 });

  const search = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setBusy(true);
    try {
      const m = client(MemoryService);
      const r =
        mode === "text"
          ? await m.searchMemories({ query, limit: 20, highlightStart: "⟦", highlightEnd: "⟧" })
          : mode === "semantic"
            ? await m.semanticSearchMemories({ queryText: query, topK: 20 })
            : await m.hybridSearchMemories({ query, topK: 20, highlightStart: "⟦", highlightEnd: "⟧" });
      setResults(r.results);
    } catch (err) {
      setError(err);
      setResults(undefined);
    } finally {
      setBusy(false);
    }
  };
  const s = stats.data?.stats;

  return (
    <Page title="Memory">
      <div className="grid">
        <Card title="Search" wide>
          <form className="filters" onSubmit={search}>
            <label>
              Query <input value={query} onChange={(e) => setQuery(e.target.value)} required />
            </label>
            <fieldset className="modes">
              <legend>Ranker</legend>
              {(["text", "semantic", "hybrid"] as const).map((m) => (
                <label key={m}>
                  <input type="radio" name="mode" value={m} checked={mode === m} onChange={() => setMode(m)} /> {m === "text" ? "full-text" : m}
                </label>
              ))}
            </fieldset>
            <button type="submit" disabled={busy}>
              Search
            </button>
          </form>
          <ErrorBox error={error} what="Memory search" />
          {results && results.length === 0 && <Empty>No memory matches.</Empty>}
          {results && results.length > 0 && (
            <ol className="results" aria-label="memory results">
              {results.map((r) => (
                <li key={r.memory?.id}>
                  <div>
                    <Snippet text={r.snippet || r.memory?.content || ""} />
                  </div>
                  <div className="muted">
                    score {r.score.toFixed(4)}
                    {r.textScore !== undefined && ` · text ${r.textScore.toFixed(3)}${r.textRank !== undefined ? ` (#${r.textRank})` : ""}`}
                    {r.semanticScore !== undefined && ` · semantic ${r.semanticScore.toFixed(3)}${r.semanticRank !== undefined ? ` (#${r.semanticRank})` : ""}`}
                    {r.rankers.length > 0 && ` · found by ${r.rankers.join(" + ")}`} · {r.memory?.type} · {r.memory?.agentId || "global"}
                  </div>
                </li>
              ))}
            </ol>
          )}
        </Card>
        <Card title="Stats" wide>
          <ErrorBox error={stats.error} what="Memory" />
          {s && (
            <>
              <dl className="counts">
                <div className="count">
                  <dt>memories</dt>
                  <dd>{String(s.totalCount)}</dd>
                </div>
                <div className="count">
                  <dt>with embedding</dt>
                  <dd>{String(s.withEmbeddingCount)}</dd>
                </div>
                <div className="count">
                  <dt>without</dt>
                  <dd>{String(s.withoutEmbeddingCount)}</dd>
                </div>
                <div className="count">
                  <dt>expired</dt>
                  <dd>{String(s.expiredCount)}</dd>
                </div>
              </dl>
              <p className="muted">
                {(Number(s.contentBytes) / 1024).toFixed(1)} KB of content · oldest {time(s.oldestCreateTime)} · newest {time(s.newestCreateTime)}
              </p>
              <h3>By type</h3>
              <ul>
                {Object.entries(s.countByType).map(([k, v]) => (
                  <li key={k}>
                    {k}: {String(v)}
                  </li>
                ))}
              </ul>
            </>
          )}
        </Card>
      </div>
    </Page>
  );
}

/** A snippet with the server's highlight markers shown as <mark>. */
function Snippet({ text }: { text: string }) {
  const parts = text.split(/(⟦[^⟧]*⟧)/g);
  return (
    <>
      {parts.map((p, i) => (p.startsWith("⟦") ? <mark key={i}>{p.slice(1, -1)}</mark> : <span key={i}>{p}</span>))}
    </>
  );
}
