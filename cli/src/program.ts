// The command tree. Each domain registers its commands from commands/<domain>.ts; a domain whose
// RPCs answer gets a file there and one line below.
import { Command, CommanderError, Option } from "commander";
import { registerCompletion } from "./commands/completion.ts";
import { registerLeases } from "./commands/leases.ts";
import { registerLogin } from "./commands/login.ts";
import { registerMail } from "./commands/mail.ts";
import { registerQueues } from "./commands/queues.ts";
import { registerSystem } from "./commands/system.ts";
import { registerTasks } from "./commands/tasks.ts";
import { makeCtx, type Ctx, type GlobalFlags } from "./context.ts";
import { EXIT, toCliError } from "./errors.ts";

export const VERSION = "0.1.0";

export function createProgram(): Command {
  const program = new Command("switchyard")
    .description("Command line for a Switchyard server: tasks, queues, leases, mail, health")
    .version(VERSION)
    .option("-s, --server <url>", "server URL (default: $SWITCHYARD_SERVER, the config file, http://localhost:8080)")
    .option("--token <token>", "API token (default: $SWITCHYARD_API_TOKEN, then the config file written by `switchyard login`)")
    .addOption(new Option("-o, --output <format>", "output format").choices(["table", "json", "yaml"]).default("table"))
    .addOption(new Option("--protocol <protocol>", "wire protocol").choices(["grpc", "connect"]).default("grpc"))
    .option("--no-color", "no colours (they are only used on a terminal anyway, and never with NO_COLOR)")
    .option("-w, --width <columns>", "table width (default: the terminal's; unlimited when not a terminal)")
    .option("--timeout <seconds>", "deadline of each call", "30")
    .showHelpAfterError()
    .showSuggestionAfterError();
  const flags = () => program.opts<GlobalFlags>();
  let ctx: Ctx | undefined;
  const getCtx = () => (ctx ??= makeCtx(flags()));
  registerTasks(program, getCtx);
  registerQueues(program, getCtx);
  registerLeases(program, getCtx);
  registerMail(program, getCtx);
  registerSystem(program, getCtx);
  registerLogin(program, flags);
  registerCompletion(program);
  // Usage errors exit 2 everywhere (commander's default is 1); help and version exit 0.
  const exitOverride = (c: Command) => {
    c.exitOverride((err: CommanderError) => {
      throw err;
    });
    c.configureOutput({ writeErr: (s) => process.stderr.write(s) });
    c.commands.forEach(exitOverride);
  };
  exitOverride(program);
  return program;
}

/** Runs the CLI; answers the exit code. */
export async function run(argv: string[]): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (["commander.helpDisplayed", "commander.help", "commander.version"].includes(e.code)) return EXIT.ok;
      if (e.code === "commander.executeSubCommandAsync") return EXIT.ok;
      // a command group called without a subcommand shows its help: exit 2 like any usage error
      return EXIT.usage;
    }
    const err = toCliError(e);
    if (err.message) process.stderr.write(`switchyard: ${err.message}\n`);
    return err.exitCode;
  }
}
