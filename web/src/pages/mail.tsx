import { useState, type FormEvent } from "react";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { fromJson, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { MailService } from "../../../gen/switchyard/mail/v1/mail_service_pb.ts";
import { LeaseService } from "../../../gen/switchyard/mail/v1/lease_service_pb.ts";
import type { Message } from "../../../gen/switchyard/mail/v1/mail_pb.ts";
import { client } from "../transport.ts";
import { useStream } from "../live.ts";
import { Card, Empty, ErrorBox, Live, Page, ago, time } from "../ui.tsx";

export function Mail() {
  const [topic, setTopic] = useState("");
  const [tailing, setTailing] = useState("");
  const [messages, setMessages] = useState<Message[]>([]);
  const [form, setForm] = useState({ topic: "", sender: "dashboard", payload: '{"hello": "world"}' });
  const [payloadError, setPayloadError] = useState("");
  const publish = useMutation(MailService.method.publish);

  // Resume after a lost stream from the last sequence seen, so the tail misses nothing.
  const [lastSeq, setLastSeq] = useState(0n);
  const stream = useStream(
    async function* (signal) {
      if (!tailing) return;
      const start = lastSeq > 0n ? { case: "startSequence" as const, value: lastSeq + 1n } : { case: undefined };
      for await (const m of client(MailService).subscribe({ topic: tailing, start }, { signal })) {
        if (m.message) {
          const msg = m.message;
          setLastSeq(msg.sequence);
          setMessages((prev) => [msg, ...prev].slice(0, 200));
        }
        yield m;
      }
    },
    [tailing],
  );

  const send = (e: FormEvent) => {
    e.preventDefault();
    let payload;
    try {
      payload = fromJson(ValueSchema, JSON.parse(form.payload));
      setPayloadError("");
    } catch (err) {
      setPayloadError(`payload is not JSON: ${(err as Error).message}`);
      return;
    }
    publish.mutate({ destination: { case: "topic", value: form.topic || tailing }, sender: form.sender, payload });
  };

  return (
    <Page title="Mail and leases">
      <div className="grid">
        <Card title="Live tail" wide>
          <form
            className="filters"
            onSubmit={(e) => {
              e.preventDefault();
              setMessages([]);
              setLastSeq(0n);
              setTailing(topic.trim());
            }}
          >
            <label>
              Topic (or pattern) <input value={topic} onChange={(e) => setTopic(e.target.value)} placeholder="builds.>" />
            </label>
            <button type="submit">Tail</button>
            {tailing && <Live state={stream.state} error={stream.error} />}
          </form>
          {!tailing && <Empty>Name a topic to tail its messages live (replay starts at new messages).</Empty>}
          {tailing && messages.length === 0 && <Empty>Waiting for messages on {tailing}…</Empty>}
          <ol className="messages" aria-label="messages">
            {messages.map((m) => (
              <li key={String(m.sequence)}>
                <span className="muted">
                  #{String(m.sequence)} {m.topic} from {m.sender} · {time(m.publishTime)}
                </span>
                <pre className="json">{JSON.stringify(m.payload ? toJson(ValueSchema, m.payload) : null)}</pre>
              </li>
            ))}
          </ol>
        </Card>
        <Card title="Publish">
          <form className="form" onSubmit={send}>
            <label>
              Topic <input required={!tailing} value={form.topic} placeholder={tailing} onChange={(e) => setForm({ ...form, topic: e.target.value })} />
            </label>
            <label>
              Sender <input required value={form.sender} onChange={(e) => setForm({ ...form, sender: e.target.value })} />
            </label>
            <label>
              Payload (JSON) <textarea rows={4} value={form.payload} onChange={(e) => setForm({ ...form, payload: e.target.value })} />
            </label>
            {payloadError && (
              <p className="error" role="alert">
                {payloadError}
              </p>
            )}
            <button type="submit" disabled={publish.isPending}>
              Publish
            </button>
            <ErrorBox error={publish.error} />
            {publish.data && <p className="muted">published as #{String(publish.data.message?.sequence)}</p>}
          </form>
        </Card>
        <Leases />
      </div>
    </Page>
  );
}

function Leases() {
  const leases = useQuery(LeaseService.method.listLeases, { pageSize: 200 }, { refetchInterval: 2000 });
  const release = useMutation(LeaseService.method.releaseLease, { onSuccess: () => void leases.refetch() });
  return (
    <Card title="File leases" wide>
      <ErrorBox error={leases.error ?? release.error} />
      {leases.data && leases.data.leases.length === 0 && <Empty>No file is leased right now.</Empty>}
      {leases.data && leases.data.leases.length > 0 && (
        <div className="table-wrap">
          <table aria-label="leases">
            <thead>
              <tr>
                <th scope="col">path</th>
                <th scope="col">holder</th>
                <th scope="col">fencing token</th>
                <th scope="col">acquired</th>
                <th scope="col">expires</th>
                <th scope="col">
                  <span className="sr-only">actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {leases.data.leases.map((l) => (
                <tr key={l.path}>
                  <td>
                    <code>{l.path}</code>
                  </td>
                  <td>{l.holder}</td>
                  <td>{String(l.fencingToken)}</td>
                  <td>{ago(l.acquireTime)}</td>
                  <td>{time(l.expireTime)}</td>
                  <td>
                    <button type="button" onClick={() => release.mutate({ path: l.path, fencingToken: l.fencingToken })}>
                      Release
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
