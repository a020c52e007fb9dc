// Shell completion scripts generated from the command tree (commands, subcommands, options).
import type { Command } from "commander";
import { CliError, EXIT } from "../errors.ts";

type Node = { path: string[]; subs: string[]; opts: string[] };

function walk(cmd: Command, path: string[] = [], out: Node[] = []): Node[] {
  const subs = cmd.commands.map((c) => c.name());
  const opts = [...cmd.options.flatMap((o) => [o.long, o.short].filter(Boolean) as string[]), "--help"];
  out.push({ path, subs, opts });
  for (const c of cmd.commands) walk(c, [...path, c.name()], out);
  return out;
}

export function completionScript(root: Command, shell: string): string {
  const nodes = walk(root);
  const globals = root.options.flatMap((o) => [o.long, o.short].filter(Boolean) as string[]);
  if (shell === "bash" || shell === "zsh") {
    const cases = nodes.map((n) => `    "${n.path.join(" ")}") words_="${[...n.subs, ...n.opts, ...(n.path.length ? globals : [])].join(" ")}" ;;`).join("\n");
    const bash = `# switchyard completion (bash; zsh: autoload -U +X bashcompinit && bashcompinit first)
_switchyard() {
  local cur path_ i w words_
  cur="\${COMP_WORDS[COMP_CWORD]}"
  path_=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    if [[ -z "$path_" ]]; then cand="$w"; else cand="$path_ $w"; fi
    case "$cand" in
${nodes.map((n) => `      "${n.path.join(" ")}") path_="$cand" ;;`).filter((l) => !l.includes('""')).join("\n")}
    esac
  done
  case "$path_" in
${cases}
  esac
  COMPREPLY=( $(compgen -W "$words_" -- "$cur") )
}
complete -F _switchyard switchyard
`;
    return shell === "zsh" ? `autoload -U +X bashcompinit && bashcompinit\n${bash}` : bash;
  }
  if (shell === "fish") {
    const lines = ["# switchyard completion (fish)", "complete -c switchyard -f"];
    for (const n of nodes) {
      const cond = n.path.length === 0 ? "__fish_use_subcommand" : `__fish_seen_subcommand_from ${n.path.at(-1)}`;
      for (const s of n.subs) lines.push(`complete -c switchyard -n '${cond}' -a ${s}`);
      for (const o of n.opts.filter((x) => x.startsWith("--"))) lines.push(`complete -c switchyard -n '${cond}' -l ${o.slice(2)}`);
    }
    return lines.join("\n") + "\n";
  }
  throw new CliError(`unknown shell ${shell}: bash, zsh or fish`, EXIT.usage);
}

export function registerCompletion(program: Command, write: (s: string) => void): void {
  program
    .command("completion <shell>")
    .description("print a completion script: bash, zsh or fish (e.g. source <(switchyard completion bash))")
    .action((shell: string) => {
      write(completionScript(program, shell));
    });
}
