import type { JWTVerifyGetKey } from "jose";
import { AuthService } from "../../gen/switchyard/auth/v1/auth_service_pb.js";
import { fastestAuthFamilies } from "../server/legacy/fastest/auth.ts";
import type { DomainModule, ModuleContext } from "../server/module.ts";
import type { ServiceRegistration } from "../server/rpc.ts";
import { createAuth, type Auth } from "./auth.ts";
import { authService } from "./service.ts";

export interface AuthModule extends DomainModule {
  auth: Auth;
}

/**
 * The identity domain as served: AuthService, seed 002's device-flow verification page and its
 * RFC 8628 error bodies; registers session lookup with the principal resolver so every
 * protocol accepts Switchyard sessions.
 */
export function createAuthModule(ctx: ModuleContext, options: { idTokenKeys?: JWTVerifyGetKey } = {}): AuthModule {
  const auth = createAuth({ database: ctx.database, clock: ctx.clock, secrets: ctx.secrets, config: ctx.config.auth, idTokenKeys: options.idTokenKeys });
  ctx.auth.useSessions((token) => auth.sessions.lookup(token));
  let timer: ReturnType<typeof setInterval> | undefined;
  return {
    name: "auth",
    dialects: ["sqlite", "postgres"],
    auth,
    services: [{ service: AuthService, impl: authService(auth, { publicUrl: ctx.config.auth.publicUrl }) } as ServiceRegistration],
    legacy: fastestAuthFamilies({ googleClientId: ctx.config.auth.googleClientId }),
    start() {
      // Ended sessions and device codes are kept a day (for support), then removed hourly.
      timer = setInterval(() => void auth.purge().catch((error) => ctx.log.error("auth: purge failed", { error: String(error) })), 3_600_000);
      timer.unref?.();
    },
    async close() {
      if (timer) clearInterval(timer);
    },
  };
}
