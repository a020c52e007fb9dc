import type { Socket } from "node:net";
import { toJson } from "@bufbuild/protobuf";
import { WebSocketServer, type WebSocket } from "ws";
import { ConversationEventSchema } from "../../gen/switchyard/workspaces/v1/conversations_pb.js";
import { AppError } from "../core/errors.ts";
import type { UpgradeRoute } from "../server/http.ts";
import type { NodeRequest } from "../server/http-io.ts";
import { authenticateUpgrade, type PrincipalResolver } from "../server/interceptors/auth.ts";
import type { InsightsDomain } from "./context.ts";
import { eventMessage } from "./convert.ts";
import { watchConversation } from "./conversations.ts";

const PATH = /^\/v1\/conversations\/([A-Za-z0-9_-]{1,128})\/stream$/;

function refuse(socket: Socket, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(`HTTP/1.1 ${status} ${status === 401 ? "Unauthorized" : "Not Found"}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/**
 * `GET /v1/conversations/{id}/stream` as a WebSocket (seed 002): `Authorization: Bearer` or
 * `?token=`; `?after_sequence=N` replays from there. Each event is one text frame, the JSON of
 * `ConversationEvent` with proto field names.
 */
export function conversationSocket(d: InsightsDomain, auth: PrincipalResolver): UpgradeRoute & { close(): void } {
  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<WebSocket>();
  return {
    path: "/v1/conversations/{conversation_id}/stream",
    matches: (path) => PATH.test(path),
    handle(req: NodeRequest, socket: Socket, head: Buffer) {
      const url = new URL(req.url ?? "/", "http://switchyard");
      const id = PATH.exec(url.pathname)![1]!;
      const after = Number(url.searchParams.get("after_sequence") ?? "0");
      void authenticateUpgrade(auth, req.headers, url).then(
        async (principal) => {
          const tenant = principal.tenant;
          if (!(await d.database.read((tx) => d.store.getConversation(tx, tenant, id)))) return refuse(socket, 404, "NOT_FOUND", `conversation ${id} not found`);
          wss.handleUpgrade(req as never, socket, head, (ws) => {
            sockets.add(ws);
            const abort = new AbortController();
            ws.on("close", () => {
              abort.abort();
              sockets.delete(ws);
            });
            void (async () => {
              try {
                for await (const e of watchConversation(d, tenant, id, Number.isSafeInteger(after) && after > 0 ? after : 0, abort.signal)) {
                  ws.send(JSON.stringify(toJson(ConversationEventSchema, eventMessage(e), { useProtoFieldName: true })));
                }
              } catch (error) {
                ws.close(1011, error instanceof AppError ? error.reason : "internal error");
              }
            })();
          });
        },
        () => refuse(socket, 401, "UNAUTHORIZED", "invalid or missing token"),
      ).catch(() => socket.destroy()); // the database did not answer the lookup
    },
    close() {
      for (const ws of sockets) ws.terminate();
      wss.close();
    },
  };
}
