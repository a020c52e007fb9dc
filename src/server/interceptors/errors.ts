import type { Interceptor } from "@connectrpc/connect";
import type { Logger } from "../../core/logger.ts";
import { callRecordKey } from "../call-record.ts";
import { codeName, errorInfo, toConnectError } from "../errors.ts";

/**
 * Outermost interceptor: every failure leaves as a ConnectError with an ErrorInfo reason, and
 * the outcome (code, reason) is written to the request's CallRecord for the log and metrics.
 */
export function errorInterceptor(log: Logger): Interceptor {
  // The RPC's name, built once per method rather than once per call.
  const names = new WeakMap<object, string>();
  const nameOf = (req: { service: { typeName: string }; method: { name: string } }) => {
    let n = names.get(req.method);
    if (n === undefined) names.set(req.method, (n = `${req.service.typeName}/${req.method.name}`));
    return n;
  };
  return (next) => async (req) => {
    const record = req.contextValues.get(callRecordKey);
    const rpc = nameOf(req);
    if (record) record.rpc = rpc;
    const fail = (error: unknown) => {
      const connectError = toConnectError(error, log, { rpc, requestId: record?.requestId });
      if (record) {
        record.code = codeName(connectError.code);
        record.reason = errorInfo(connectError)?.reason;
      }
      return connectError;
    };
    try {
      const res = await next(req);
      if (!res.stream) {
        if (record) record.code = "ok";
        return res;
      }
      const source = res.message;
      async function* guarded() {
        try {
          yield* source;
          if (record) record.code = "ok";
        } catch (error) {
          throw fail(error);
        }
      }
      return { ...res, message: guarded() };
    } catch (error) {
      throw fail(error);
    }
  };
}
