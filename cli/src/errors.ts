import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";

/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  auth: 5,
  unavailable: 6,
  unimplemented: 7,
} as const;

/** An error the CLI reports on stderr with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly reason = "",
  ) {
    super(message);
  }
}

const byCode: Partial<Record<Code, number>> = {
  [Code.InvalidArgument]: EXIT.usage,
  [Code.OutOfRange]: EXIT.usage,
  [Code.NotFound]: EXIT.notFound,
  [Code.AlreadyExists]: EXIT.conflict,
  [Code.FailedPrecondition]: EXIT.conflict,
  [Code.Aborted]: EXIT.conflict,
  [Code.Unauthenticated]: EXIT.auth,
  [Code.PermissionDenied]: EXIT.auth,
  [Code.Unavailable]: EXIT.unavailable,
  [Code.DeadlineExceeded]: EXIT.unavailable,
  [Code.Unimplemented]: EXIT.unimplemented,
};

/** Maps any failure to a CliError: RPC errors keep their code word and ErrorInfo reason. */
export function toCliError(e: unknown): CliError {
  if (e instanceof CliError) return e;
  if (e instanceof ConnectError || (e instanceof Error && e.name === "ConnectError")) {
    const c = ConnectError.from(e);
    const reason = c.findDetails(ErrorInfoSchema)[0]?.reason ?? "";
    const word = Code[c.code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
    return new CliError(`${word}${reason ? ` ${reason}` : ""}: ${c.rawMessage}`, byCode[c.code] ?? EXIT.error, reason);
  }
  return new CliError(e instanceof Error ? e.message : String(e), EXIT.error);
}
