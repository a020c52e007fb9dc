import type { Interceptor } from "@connectrpc/connect";
import type { Logger } from "../../core/logger.ts";
import { callRecordKey } from "../call-record.ts";
import { codeName, errorInfo, toConnectError } from "../errors.ts";

/**
 * Outermost interceptor: every failure leaves as a ConnectError with an ErrorInfo reason, and
 * the outcome (code, reason) is written to the request's CallRecord for the log and metrics.
 */
export function errorInterceptor(log: Logger): Interceptor {
  return (next) => async (req) => {
    const record = req.contextValues.get(callRecordKey);
    if (record) record.rpc = `${req.service.typeName}/${req.method.name}`;
    const fail = (error: unknown) => {
      const connectError = toConnectError(error, log, { rpc: `${req.service.typeName}/${req.method.name}`, requestId: record?.requestId });
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
