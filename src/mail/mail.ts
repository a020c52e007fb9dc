import { systemClock, type Clock } from "../core/clock.ts";
import type { Bus } from "../bus/bus.ts";
import type { Database } from "../db/client.ts";
import { createLeases, type Leases, type LeasesDeps } from "./leases.ts";
import { createMessages, DEFAULT_RETENTION, MAIL_STREAM, type MessageRetention, type Messages } from "./messages.ts";
import { MAIL_SUBJECT_PREFIX } from "./topics.ts";

/** The mail domain: messages (pub/sub with replay, history) and file leases. */
export interface Mail {
  readonly messages: Messages;
  readonly leases: Leases;
  /** Stops the lease sweeper (the bus and database belong to the caller). */
  close(): Promise<void>;
}

export interface MailDeps {
  database: Database;
  bus: Bus;
  clock?: Clock;
  /** Retention of the mail log (count and age). Default: 1,000,000 messages, 7 days. */
  retention?: Partial<MessageRetention>;
  /** Live messages held for one slow subscriber before its stream ends (default 1000). */
  subscriberBuffer?: number;
  /** How often expired leases are removed and announced (ms, default 1000; 0 turns the sweeper off). */
  leaseSweepMs?: number;
  onEventError?: LeasesDeps["onEventError"];
}

/**
 * Creates the mail domain: ensures the MAIL stream (`mail.>`, with the retention) on the bus,
 * then wires messages and leases and starts the expired-lease sweeper.
 */
export async function createMail(deps: MailDeps): Promise<Mail> {
  const clock = deps.clock ?? systemClock;
  const retention = { ...DEFAULT_RETENTION, ...deps.retention };
  await deps.bus.ensureStream({
    name: MAIL_STREAM,
    subjects: `${MAIL_SUBJECT_PREFIX}>`,
    maxMsgs: retention.maxMessages,
    maxAgeMs: retention.maxAgeMs,
  });
  const messages = createMessages({ bus: deps.bus, clock, subscriberBuffer: deps.subscriberBuffer });
  const leases = createLeases({ database: deps.database, messages, clock, onEventError: deps.onEventError });
  const sweepMs = deps.leaseSweepMs ?? 1000;
  let sweeping = false;
  const timer =
    sweepMs > 0
      ? setInterval(() => {
          if (sweeping) return;
          sweeping = true;
          leases
            .sweepExpired()
            .catch((error) => console.error("mail: lease sweep failed:", error))
            .finally(() => (sweeping = false));
        }, sweepMs)
      : undefined;
  timer?.unref?.();
  return {
    messages,
    leases,
    async close() {
      if (timer) clearInterval(timer);
    },
  };
}
