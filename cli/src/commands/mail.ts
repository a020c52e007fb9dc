import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import { MessageSchema } from "../../../gen/switchyard/mail/v1/mail_pb.js";
import { MailService } from "../../../gen/switchyard/mail/v1/mail_service_pb.js";
import { durationArg, follow, intArg, jsonArg, type Ctx } from "../context.ts";
import { CliError, EXIT } from "../errors.ts";
import { render, streamer, type Column } from "../output.ts";

const MESSAGE_COLUMNS: Column[] = [
  ["SEQ", (m) => m.sequence],
  ["TIME", (m) => m.publish_time],
  ["TOPIC", (m) => m.topic],
  ["SENDER", (m) => m.sender],
  ["PAYLOAD", (m) => m.payload],
];
const MESSAGE_WIDTHS = [6, 24, 20, 14];

const header = (v: string, prev: Record<string, string> = {}) => {
  const i = v.indexOf("=");
  if (i <= 0) throw new CliError(`--header must be key=value (got ${v})`, EXIT.usage);
  return { ...prev, [v.slice(0, i)]: v.slice(i + 1) };
};

export function registerMail(program: Command, ctx: () => Ctx): void {
  const mail = program.command("mail").description("publish to topics and inboxes, tail topics");
  const api = () => ctx().client(MailService);

  mail
    .command("publish [topic] [payload]")
    .description("publish a message to a topic (or --agent's inbox); payload is JSON, @file, - or plain text")
    .option("--agent <id>", "send to this agent's inbox instead of a topic")
    .option("--sender <id>", "who sends it", "switchyard-cli")
    .option("-H, --header <key=value>", "message header (repeatable)", header)
    .option("--request-id <key>", "idempotency key")
    .action(async (first: string | undefined, second: string | undefined, o) => {
      const c = ctx();
      if (!first && !o.agent) throw new CliError("give a topic or --agent", EXIT.usage);
      // `--agent ID [PAYLOAD]`: the one argument is the payload.
      if (o.agent && second !== undefined) throw new CliError("give a topic or --agent, not both", EXIT.usage);
      const [topic, payloadText] = o.agent ? [undefined, first] : [first, second];
      const payload = (await jsonArg(c.io, payloadText, "payload", true)) as JsonValue | undefined;
      const res = await api().publish(
        {
          destination: o.agent ? { case: "agent", value: o.agent } : { case: "topic", value: topic! },
          payload: payload === undefined ? undefined : fromJson(ValueSchema, payload),
          headers: o.header ?? {},
          sender: o.sender,
          requestId: o.requestId ?? "",
        },
        { timeoutMs: c.timeoutMs },
      );
      render(c.out, { ...c.json(MessageSchema, res.message!), duplicate: res.duplicate }, MESSAGE_COLUMNS);
    });

  mail
    .command("tail <topic>")
    .description("stream a topic's messages: live, or replayed from a sequence")
    .option("--from <seq>", "replay from this sequence (1 = the oldest kept)")
    .option("--for <duration>", "stop after this long (exit 0)")
    .option("-n, --count <n>", "stop after this many messages")
    .action(async (topic: string, o) => {
      const c = ctx();
      const from = intArg(o.from, "--from", 1);
      const print = streamer(c.out, MESSAGE_COLUMNS, MESSAGE_WIDTHS);
      await follow(
        (signal) => api().subscribe({ topic, start: from === undefined ? { case: undefined } : { case: "startSequence", value: BigInt(from) } }, { signal }),
        (m) => print(c.json(MessageSchema, m.message!)),
        { timeoutMs: durationArg(o.for, "--for"), count: intArg(o.count, "--count", 1) },
      );
    });
}
