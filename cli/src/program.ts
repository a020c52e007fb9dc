// The command tree. Each domain registers its commands from commands/<domain>.ts; a domain whose
// RPCs answer gets a file there and one line below.
import { Command, CommanderError, Option } from "commander";
import { registerCompletion } from "./commands/completion.ts";
import { registerLeases } from "./commands/leases.ts";
import { registerLogin } from "./commands/login.ts";
import { registerMail } from "./commands/mail.ts";
import { registerMemory } from "./commands/memory.ts";
import { registerQueues } from "./commands/queues.ts";
import { registerServers } from "./commands/servers.ts";
import { registerSystem } from "./commands/system.ts";
import { registerTasks } from "./commands/tasks.ts";
import { registerWorkspaces } from "./commands/workspaces.ts";
import { makeCtx, processIo, type Ctx, type GlobalFlags, type Io } from "./context.ts";
import { EXIT, toCliError } from "./errors.ts";

export const VERSION = "0.1.0";

export function createProgram(io: Io = processIo()): Command {
  const program = new Command("switchyard")
    .description("Command line for a Switchyard server: tasks, queues, leases, mail, workers, servers, load balancer, memory, workspaces, health")
    .version(VERSION)
    .option("-s, --server <url>", "server URL (default: $SWITCHYARD_SERVER, the config file, http://localhost:8080)")
    .option("--token <token>", "API token (default: $SWITCHYARD_API_TOKEN, then the config file written by `switchyard login`)")
    .addOption(new Option("-o, --output <format>", "output format").choices(["table", "json", "yaml"]).default("table"))
    .addOption(new Option("--protocol <protocol>", "wire protocol").choices(["grpc", "connect"]).default("grpc"))
    .option("--no-color", "no colours (they are only used on a terminal anyway, and never with NO_COLOR)")
    .option("-w, --width <columns>", "table width (default: the terminal's; unlimited when not a terminal)")
    // Not --timeout: a global option takes its name wherever it is written, and `tasks create
    // --timeout 30s` is the task's time limit.
    .option("--deadline <seconds>", "deadline of each call", "30")
    .showHelpAfterError()
    .showSuggestionAfterError();
  const flags = () => program.opts<GlobalFlags>();
  let ctx: Ctx | undefined;
  const getCtx = () => (ctx ??= makeCtx(flags(), io));
  registerTasks(program, getCtx);
  registerQueues(program, getCtx);
  registerLeases(program, getCtx);
  registerMail(program, getCtx);
  registerMemory(program, getCtx);
  registerServers(program, getCtx);
  registerWorkspaces(program, getCtx);
  registerSystem(program, getCtx);
  registerLogin(program, flags, io);
  registerCompletion(program, io.stdout);
  // Usage errors exit 2 everywhere (commander's default is 1); help and version exit 0.
  const exitOverride = (c: Command) => {
    c.exitOverride((err: CommanderError) => {
      throw err;
    });
    c.configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
    c.commands.forEach(exitOverride);
  };
  exitOverride(program);
  return program;
}

/** Runs the CLI; answers the exit code. */
export async function run(argv: string[], io: Io = processIo()): Promise<number> {
  const program = createProgram(io);
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return EXIT.ok;
      // A command group called without its subcommand shows its help as an error: a usage error.
      if (e.code === "commander.help") return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return EXIT.usage;
    }
    const err = toCliError(e);
    if (err.message) io.stderr(`switchyard: ${err.message}\n`);
    return err.exitCode;
  }
}
