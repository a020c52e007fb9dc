import { toJson } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { DeviceAuthorizationState } from "../../../../gen/switchyard/auth/v1/auth_pb.js";
import { AuthService, ExchangeDeviceCodeResponseSchema } from "../../../../gen/switchyard/auth/v1/auth_service_pb.js";
import { SystemService } from "../../../../gen/switchyard/system/v1/system_service_pb.js";
import { codeName, errorInfo } from "../../errors.ts";
import { route, type LegacyFamily, type LegacyReply } from "../table.ts";

/** Seed 002 (Fastest) error body: `{ error: { code, message } }`. */
export function fastestError(error: ConnectError, status: number): LegacyReply {
  return { status, body: { error: { code: errorInfo(error)?.reason ?? codeName(error.code).toUpperCase(), message: error.rawMessage } } };
}

/** RFC 8628 §3.5 / RFC 6749 §5.2 error codes, by our reasons. */
const OAUTH_ERRORS: Record<string, string> = {
  AUTHORIZATION_PENDING: "authorization_pending",
  SLOW_DOWN: "slow_down",
  ACCESS_DENIED: "access_denied",
  EXPIRED_TOKEN: "expired_token",
  UNSUPPORTED_GRANT_TYPE: "unsupported_grant_type",
  DEVICE_CODE_NOT_FOUND: "invalid_grant",
};

/** The token endpoint answers OAuth's `{ error, error_description }` with HTTP 400 (500 for a server fault). */
function oauthError(error: ConnectError, status: number): LegacyReply {
  const reason = errorInfo(error)?.reason ?? "";
  if (status >= 500) return { status, body: { error: "server_error", error_description: "an unexpected error occurred" } };
  return { status: 400, body: { error: OAUTH_ERRORS[reason] ?? "invalid_request", error_description: error.rawMessage }, headers: { "cache-control": "no-store" } };
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
const STATE_TEXT: Record<number, string> = {
  [DeviceAuthorizationState.PENDING]: "waiting for you to authorize it",
  [DeviceAuthorizationState.AUTHORIZED]: "already authorized",
  [DeviceAuthorizationState.DENIED]: "denied",
  [DeviceAuthorizationState.EXPIRED]: "expired — start again from the CLI",
  [DeviceAuthorizationState.EXCHANGED]: "already used",
};

/** The verification page (RFC 8628 §3.3): enter the code, authorize with a bearer token or deny. */
function page(code: string, status: string, googleClientId: string | undefined): string {
  // With Google sign-in configured, the person can authorize with the Google button (Google
  // Identity Services hands the page an ID token, sent as `credential`).
  const google = googleClientId
    ? `<script src="https://accounts.google.com/gsi/client" async></script>
<div id="g_id_onload" data-client_id="${escape(googleClientId)}" data-callback="onGoogle" data-auto_prompt="false"></div>
<div class="g_id_signin" data-type="standard" data-text="continue_with"></div>
<script>function onGoogle(r){document.querySelector("[name=credential]").value=r.credential;document.querySelector("[value=authorize]").click();}</script>`
    : "";
  return `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Authorize a device</title>
<style>body{font-family:system-ui,sans-serif;margin:3rem auto;max-width:28rem}input{font-size:1.2rem;padding:.4rem;width:100%;box-sizing:border-box;margin:.3rem 0}button{font-size:1rem;padding:.5rem 1rem;margin:.5rem .5rem 0 0}</style>
</head><body><h1>Authorize a device</h1>
<p>Enter the code your terminal shows.</p>
<form id="f"><label>Code <input name="user_code" value="${escape(code)}" autocomplete="off" autocapitalize="characters" placeholder="WDJB-MJHT" required></label>
<label>Your access token <input name="token" type="password" autocomplete="off"></label><input name="credential" type="hidden">
<button name="do" value="authorize">Authorize</button><button name="do" value="deny">Deny</button></form>
${google}
<p id="status" role="status">${escape(status)}</p>
<script>
document.getElementById("f").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target), action = e.submitter.value, token = String(form.get("token") || ""), credential = String(form.get("credential") || "");
  const body = { user_code: String(form.get("user_code")) };
  const headers = { "content-type": "application/json" };
  if (action === "authorize" && credential) body.credential = credential;
  if (token) headers.authorization = "Bearer " + token;
  const res = await fetch("/v1/oauth/device/" + action, { method: "POST", headers, body: JSON.stringify(body) });
  const out = await res.json().catch(() => ({}));
  document.getElementById("status").textContent = res.ok ? (action === "authorize" ? "Device authorized. You can return to your terminal." : "Denied.") : (out.error && out.error.message) || "Refused (" + res.status + ")";
});
</script></body></html>`;
}

/**
 * Seed 002's identity routes that need more than the REST transcoder: the device-flow
 * verification page at `/device` and the RFC 8628 token endpoint's error bodies.
 */
export function fastestAuthFamilies(options: { googleClientId?: string } = {}): LegacyFamily[] {
  const pageFamily: LegacyFamily = {
    name: "seed-002-auth",
    error: fastestError,
    routes: [
      route({
        method: "GET",
        path: "/device",
        policy: "public",
        // The page itself needs no RPC; it rides on the public health call and looks the code up.
        rpc: SystemService.method.getHealth,
        async response(_out, req, call) {
          const code = req.query.get("code") ?? "";
          let status = "";
          if (code) {
            try {
              const d = await call(AuthService.method.getDeviceAuthorization, { userCode: code });
              status = `Code ${d.userCode} is ${STATE_TEXT[d.state] ?? "unknown"}.`;
            } catch (error) {
              status = (error as Error).message.replace(/^\[\w+\] /, "");
            }
          }
          return { body: page(code, status, options.googleClientId), contentType: "text/html; charset=utf-8", headers: { "cache-control": "no-store" } };
        },
      }),
    ],
  };
  const tokenFamily: LegacyFamily = {
    name: "seed-002-oauth",
    error: oauthError,
    routes: [
      route({
        method: "POST",
        path: "/v1/oauth/token",
        policy: "public",
        rpc: AuthService.method.exchangeDeviceCode,
        request: (req) => {
          const b = (req.body ?? {}) as Record<string, unknown>;
          return { grantType: String(b.grant_type ?? ""), deviceCode: String(b.device_code ?? "") };
        },
        response: (out) => ({ body: toJson(ExchangeDeviceCodeResponseSchema, out, { useProtoFieldName: true, alwaysEmitImplicit: true }), headers: { "cache-control": "no-store" } }),
      }),
    ],
  };
  return [pageFamily, tokenFamily];
}
