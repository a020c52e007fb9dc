import { sql } from "drizzle-orm";
import { blob, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Stored messages of the in-process bus's streams (mail and any other domain's stream). */
export const busMessages = sqliteTable(
  "bus_messages",
  {
    stream: text("stream").notNull(),
    seq: integer("seq").notNull(),
    subject: text("subject").notNull(),
    data: blob("data", { mode: "buffer" }).notNull(),
    /** JSON object of string headers. */
    headers: text("headers").notNull(),
    /** Publish time, ms since the epoch. */
    time: integer("time").notNull(),
    /** Publisher's idempotency key, unique per stream while the message is retained. */
    msgId: text("msg_id"),
  },
  (t) => [
    primaryKey({ columns: [t.stream, t.seq] }),
    index("bus_messages_subject").on(t.stream, t.subject, t.seq),
    index("bus_messages_time").on(t.stream, t.time),
    uniqueIndex("bus_messages_msg_id").on(t.stream, t.msgId).where(sql`${t.msgId} is not null`),
  ],
);

/** Last sequence per stream, kept apart so trimming every message never reuses a sequence. */
export const busStreams = sqliteTable("bus_streams", {
  name: text("name").primaryKey(),
  lastSeq: integer("last_seq").notNull(),
});
