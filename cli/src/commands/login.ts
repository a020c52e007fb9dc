import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Command } from "commander";
import { AuthService } from "../../../gen/switchyard/auth/v1/auth_service_pb.js";
import { TaskService } from "../../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { configPath, readConfig, removeConfigToken, writeConfig } from "../config.ts";
import { makeCtx, type Ctx, type GlobalFlags, type Io } from "../context.ts";
import { CliError, EXIT } from "../errors.ts";
import { render } from "../output.ts";

const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

/** Answers whether a call with this token is accepted (an authenticated RPC). */
async function check(c: Ctx): Promise<void> {
  try {
    await c.client(TaskService).listTasks({ pageSize: 1 }, { timeoutMs: c.timeoutMs });
  } catch (e) {
    const err = ConnectError.from(e);
    if (err.code === Code.Unauthenticated || err.code === Code.PermissionDenied) throw new CliError(`the server refused the token: ${err.rawMessage}`, EXIT.auth);
    throw e;
  }
}

/** RFC 8628 device flow, when the server offers it (AuthService.StartDeviceAuthorization answers). */
async function deviceFlow(c: Ctx, err: (s: string) => void): Promise<string> {
  const auth = c.client(AuthService);
  let start;
  try {
    start = await auth.startDeviceAuthorization({}, { timeoutMs: c.timeoutMs });
  } catch (e) {
    if (ConnectError.from(e).code === Code.Unimplemented) throw new CliError("this server does not offer the device flow; use: switchyard login --token <token>", EXIT.unimplemented);
    throw e;
  }
  err(`Open ${start.verificationUriComplete || start.verificationUri} and enter the code ${start.userCode}\n`);
  let interval = Math.max(1, start.interval || 5) * 1000;
  const deadline = Date.now() + (start.expiresIn || 600) * 1000;
  while (Date.now() < deadline) {
    await Bun.sleep(interval);
    try {
      const res = await auth.exchangeDeviceCode({ grantType: DEVICE_GRANT, deviceCode: start.deviceCode }, { timeoutMs: c.timeoutMs });
      return res.accessToken;
    } catch (e) {
      const ce = ConnectError.from(e);
      const text = `${ce.rawMessage} ${ce.findDetails(ErrorInfoSchema)[0]?.reason ?? ""}`.toLowerCase();
      if (/slow_down|slow down/.test(text)) interval += 5000;
      else if (!/pending/.test(text)) throw e;
    }
  }
  throw new CliError("the device code expired before it was authorized", EXIT.auth);
}

export function registerLogin(program: Command, flags: () => GlobalFlags, io: Io): void {
  const path = () => configPath(io.env);
  program
    .command("login")
    .description(`check a token and store it (and the server) in the config file ($SWITCHYARD_CONFIG or ~/.config/switchyard/config.json): switchyard login --token <token|->; without --token, the device flow when the server offers it`)
    .action(async () => {
      const f = flags();
      // --token is the global option; "-" reads it from stdin (keeps it out of the shell history).
      let token: string | undefined = f.token === "-" ? (await io.stdin()).trim() : f.token;
      if (!token) token = await deviceFlow(makeCtx({ ...f, token: undefined }, io), io.stderr);
      const c = makeCtx({ ...f, token }, io);
      await check(c);
      const stored = readConfig(path());
      writeConfig({ ...stored, server: c.server, token }, path());
      render(c.out, { server: c.server, config: path(), logged_in: true }, [
        ["SERVER", (r) => r.server],
        ["CONFIG", (r) => r.config],
      ]);
    });
  program
    .command("logout")
    .description("remove the stored token from the config file")
    .action(() => {
      const c = makeCtx(flags(), io);
      const removed = removeConfigToken(path());
      render(c.out, { config: path(), removed }, [
        ["CONFIG", (r) => r.config],
        ["REMOVED", (r) => r.removed],
      ]);
    });
}
