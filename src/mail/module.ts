import { LeaseService } from "../../gen/switchyard/mail/v1/lease_service_pb.js";
import { MailService } from "../../gen/switchyard/mail/v1/mail_service_pb.js";
import { jetpackMailFamily, jetpackMailSubscribe } from "../server/legacy/jetpack-mail.ts";
import type { DomainModule, ModuleContext } from "../server/module.ts";
import type { ServiceRegistration } from "../server/rpc.ts";
import { createMail, type Mail } from "./mail.ts";
import { MAIL_STREAM } from "./messages.ts";
import { leaseService, mailService } from "./service.ts";

export interface MailModule extends DomainModule {
  mail: Mail;
}

/**
 * The mail domain as served: MailService and LeaseService, seed 000's `/api/mail/*` routes and
 * its WebSocket subscription. The lease sweeper runs from creation until close().
 */
export async function createMailModule(ctx: ModuleContext): Promise<MailModule> {
  const mail = await createMail({
    database: ctx.database,
    bus: ctx.bus,
    clock: ctx.clock,
    retention: { maxMessages: ctx.config.mailMaxMessages, maxAgeMs: ctx.config.mailMaxAgeMs },
    subscriberBuffer: ctx.config.mailSubscriberBuffer,
    onEventError: (error, e) => ctx.log.error("mail: lease event not published", { type: e.type, path: e.lease.path, error: String(error) }),
  });
  return {
    name: "mail",
    dialects: ["sqlite", "postgres"],
    mail,
    services: [
      { service: MailService, impl: mailService(mail) } as ServiceRegistration,
      { service: LeaseService, impl: leaseService(mail) } as ServiceRegistration,
    ],
    legacy: [jetpackMailFamily()],
    upgrades: [
      jetpackMailSubscribe({
        messages: mail.messages,
        lastSequence: () => ctx.bus.lastSeq(MAIL_STREAM),
        auth: ctx.auth,
        log: ctx.log,
      }),
    ],
    close: () => mail.close(),
  };
}
