import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { ApiKeySchema, DeviceAuthorizationState, SessionSchema, UserSchema, type User as PbUser } from "../../gen/switchyard/auth/v1/auth_pb.js";
import { AuthService } from "../../gen/switchyard/auth/v1/auth_service_pb.js";
import { AppError } from "../core/errors.ts";
import { principalOf, type Principal } from "../core/principal.ts";
import type { ApiKey } from "./api-keys.ts";
import type { Auth } from "./auth.ts";
import type { DeviceState } from "./device-flow.ts";
import type { Session } from "./sessions.ts";
import { SESSION_TTL_MS } from "./sessions.ts";

const userMessage = (u: { id: string; email?: string; name?: string; picture?: string }): PbUser =>
  create(UserSchema, { id: u.id, email: u.email ?? "", name: u.name ?? "", picture: u.picture ?? "" });
const apiKeyMessage = (k: ApiKey) =>
  create(ApiKeySchema, { id: k.id, userId: k.userId, provider: k.provider, keyName: k.keyName, keyValue: k.maskedValue, createdAt: timestampFromMs(k.createdAt), updatedAt: timestampFromMs(k.updatedAt) });
const sessionMessage = (s: Session) =>
  create(SessionSchema, { id: s.id, userId: s.userId, method: s.method, createTime: timestampFromMs(s.createdAt), expireTime: timestampFromMs(s.expiresAt) });
const STATES: Record<DeviceState, DeviceAuthorizationState> = {
  pending: DeviceAuthorizationState.PENDING,
  authorized: DeviceAuthorizationState.AUTHORIZED,
  denied: DeviceAuthorizationState.DENIED,
  expired: DeviceAuthorizationState.EXPIRED,
  exchanged: DeviceAuthorizationState.EXCHANGED,
};
const EXPIRES_IN_S = SESSION_TTL_MS / 1000;

/** The principal of a call that must be a user (a session, a JWT subject). */
function userOf(ctx: HandlerContext): Principal {
  const p = principalOf(ctx);
  if (p.kind === "anonymous") throw new AppError("unauthenticated", "UNAUTHENTICATED", "missing bearer token", { cause: "TOKEN_MISSING" });
  if (!p.user) throw new AppError("failed_precondition", "USER_REQUIRED", "this call acts for a user; a service token is not one");
  return p;
}

/** Whom a wrong user code is counted against: the user, else the forwarded client address. */
function callerKey(ctx: HandlerContext): string {
  const p = principalOf(ctx);
  if (p.user) return `user:${p.tenant}:${p.user}`;
  const forwarded = ctx.requestHeader.get("x-forwarded-for")?.split(",")[0]?.trim();
  return forwarded ? `ip:${forwarded}` : "anonymous";
}

/** AuthService: thin mappings onto the identity domain. */
export function authService(auth: Auth, options: { publicUrl: string | undefined }): Partial<ServiceImpl<typeof AuthService>> {
  const base = (ctx: HandlerContext) => options.publicUrl?.replace(/\/$/, "") ?? `http://${ctx.requestHeader.get("host") ?? "localhost"}`;
  return {
    async signInWithGoogle(req) {
      const { token, user } = await auth.signIn(req.credential);
      return { accessToken: token, tokenType: "Bearer", expiresIn: EXPIRES_IN_S, user: userMessage(user) };
    },
    async getCurrentUser(_req, ctx) {
      const p = userOf(ctx);
      if (p.kind !== "session") return { user: userMessage({ id: p.user }) };
      const user = await auth.users.get(p.tenant, p.user);
      if (!user) throw new AppError("unauthenticated", "USER_NOT_FOUND", "the user of this token no longer exists");
      return { user: userMessage(user) };
    },
    async listSessions(req, ctx) {
      const p = userOf(ctx);
      const page = await auth.sessions.list(p.tenant, p.user, req.pageSize, req.pageToken);
      return { sessions: page.sessions.map(sessionMessage), nextPageToken: page.nextPageToken };
    },
    async revokeSession(req, ctx) {
      const p = userOf(ctx);
      return { session: sessionMessage(await auth.sessions.revoke(p.tenant, p.user, req.id)) };
    },
    async listApiKeys(_req, ctx) {
      const p = userOf(ctx);
      return { apiKeys: (await auth.apiKeys.list(p.tenant, p.user)).map(apiKeyMessage) };
    },
    async setApiKey(req, ctx) {
      const p = userOf(ctx);
      await auth.apiKeys.set(p.tenant, p.user, req.provider, req.keyValue);
      return { success: true };
    },
    async deleteApiKey(req, ctx) {
      const p = userOf(ctx);
      await auth.apiKeys.remove(p.tenant, p.user, req.provider);
      return { success: true };
    },
    async listApiKeyValues(_req, ctx) {
      const p = userOf(ctx);
      return { envVars: await auth.apiKeys.values(p.tenant, p.user) };
    },
    async startDeviceAuthorization(_req, ctx) {
      const d = await auth.deviceFlow.start();
      const uri = `${base(ctx)}/device`;
      return {
        deviceCode: d.deviceCode,
        userCode: d.userCode,
        verificationUri: uri,
        verificationUriComplete: `${uri}?code=${encodeURIComponent(d.userCode)}`,
        expiresIn: d.expiresInS,
        interval: d.intervalS,
      };
    },
    async exchangeDeviceCode(req) {
      const issued = await auth.deviceFlow.poll(req.grantType, req.deviceCode);
      const user = await auth.users.get(issued.session.tenant, issued.session.userId);
      return { accessToken: issued.token, tokenType: "Bearer", expiresIn: EXPIRES_IN_S, user: userMessage(user ?? { id: issued.session.userId }) };
    },
    async getDeviceAuthorization(req, ctx) {
      const d = await auth.deviceFlow.lookup(req.userCode, callerKey(ctx));
      return { userCode: d.userCode, state: STATES[d.state], expireTime: timestampFromMs(d.expiresAt) };
    },
    async authorizeDevice(req, ctx) {
      let owner: { tenant: string; userId: string; roles: string[] };
      if (req.credential) {
        const identity = await auth.idTokens.verify(req.credential);
        const user = await auth.upsertUser(identity);
        owner = { tenant: user.tenant, userId: user.id, roles: user.roles };
      } else {
        const p = userOf(ctx);
        owner = { tenant: p.tenant, userId: p.user, roles: p.roles };
      }
      await auth.deviceFlow.authorize(req.userCode, `user:${owner.tenant}:${owner.userId}`, owner);
      return { success: true, message: "Device authorized. You can return to your terminal." };
    },
    async denyDevice(req, ctx) {
      await auth.deviceFlow.deny(req.userCode, callerKey(ctx));
      return { success: true };
    },
  };
}
