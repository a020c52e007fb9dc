import type { Database } from "../db/client.ts";
import { literalPrefix, subjectMatches, type BusMessage } from "./bus.ts";
import type { BusLog } from "./log.ts";

interface Row {
  stream: string;
  seq: number;
  subject: string;
  data: Uint8Array;
  headers: string;
  time: number;
}

const COLUMNS = "stream, seq, subject, data, headers, time";

/**
 * The durable BusLog: streams in the `bus_messages` table of the Switchyard database. Every
 * append goes through the group committer, so a publish is acknowledged only after its
 * commit; retention (count, then age) is applied in the same transaction.
 */
export function createSqliteBusLog(database: Database): BusLog {
  const { sqlite, committer } = database;
  const nextSeq = sqlite.prepare<{ last_seq: number }, [string]>(
    "INSERT INTO bus_streams (name, last_seq) VALUES (?1, 1) ON CONFLICT (name) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
  );
  const findId = sqlite.prepare<{ seq: number }, [string, string]>("SELECT seq FROM bus_messages WHERE stream = ?1 AND msg_id = ?2");
  const insert = sqlite.prepare<unknown, [string, number, string, Uint8Array, string, number, string | null]>(
    "INSERT INTO bus_messages (stream, seq, subject, data, headers, time, msg_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
  );
  const trimCount = sqlite.prepare<unknown, [string, number]>("DELETE FROM bus_messages WHERE stream = ?1 AND seq <= ?2");
  const trimAge = sqlite.prepare<unknown, [string, number]>("DELETE FROM bus_messages WHERE stream = ?1 AND time < ?2");
  const last = sqlite.prepare<{ last_seq: number }, [string]>("SELECT last_seq FROM bus_streams WHERE name = ?1");
  const getOne = sqlite.prepare<Row, [string, number]>(`SELECT ${COLUMNS} FROM bus_messages WHERE stream = ?1 AND seq = ?2`);
  const exact = sqlite.prepare<Row, [string, string, number, number]>(
    `SELECT ${COLUMNS} FROM bus_messages WHERE stream = ?1 AND subject = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4`,
  );
  const ranged = sqlite.prepare<Row, [string, number, string, string, number]>(
    `SELECT ${COLUMNS} FROM bus_messages WHERE stream = ?1 AND seq > ?2 AND subject >= ?3 AND subject < ?4 ORDER BY seq LIMIT ?5`,
  );
  const all = sqlite.prepare<Row, [string, number, number]>(`SELECT ${COLUMNS} FROM bus_messages WHERE stream = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3`);
  const firstAtTime = sqlite.prepare<{ seq: number }, [string, number]>(
    "SELECT seq FROM bus_messages WHERE stream = ?1 AND time >= ?2 ORDER BY time, seq LIMIT 1",
  );

  const toMessage = (r: Row): BusMessage => ({
    stream: r.stream,
    seq: r.seq,
    subject: r.subject,
    data: r.data instanceof Uint8Array ? r.data : new Uint8Array(r.data as ArrayBuffer),
    headers: JSON.parse(r.headers) as Record<string, string>,
    time: r.time,
  });

  return {
    append(stream, entry) {
      return committer.run(() => {
        if (entry.msgId !== undefined) {
          const found = findId.get(stream.name, entry.msgId);
          if (found) return { seq: found.seq, duplicate: true };
        }
        const seq = nextSeq.get(stream.name)!.last_seq;
        insert.run(stream.name, seq, entry.subject, entry.data, JSON.stringify(entry.headers), entry.time, entry.msgId ?? null);
        if (stream.maxMsgs) trimCount.run(stream.name, seq - stream.maxMsgs);
        if (stream.maxAgeMs) trimAge.run(stream.name, entry.time - stream.maxAgeMs);
        return { seq, duplicate: false };
      });
    },
    read(stream, query) {
      let afterSeq = query.afterSeq ?? 0;
      if (query.fromTime !== undefined) {
        const first = firstAtTime.get(stream, query.fromTime);
        if (!first) return [];
        afterSeq = Math.max(afterSeq, first.seq - 1);
      }
      const pattern = query.pattern;
      const wild = pattern.includes("*") || pattern.includes(">");
      if (!wild) return exact.all(stream, pattern, afterSeq, query.limit).map(toMessage);
      const prefix = literalPrefix(pattern);
      const out: BusMessage[] = [];
      // Scan in sequence order within the literal prefix, filtering the wildcards here.
      const chunk = Math.max(query.limit, 256);
      while (out.length < query.limit) {
        const rows = prefix === "" ? all.all(stream, afterSeq, chunk) : ranged.all(stream, afterSeq, `${prefix}.`, `${prefix}/`, chunk);
        for (const r of rows) {
          if (subjectMatches(pattern, r.subject)) {
            out.push(toMessage(r));
            if (out.length === query.limit) break;
          }
        }
        if (rows.length < chunk) break;
        afterSeq = rows[rows.length - 1]!.seq;
      }
      return out;
    },
    get(stream, seq) {
      const r = getOne.get(stream, seq);
      return r ? toMessage(r) : undefined;
    },
    lastSeq(stream) {
      return last.get(stream)?.last_seq ?? 0;
    },
  };
}
