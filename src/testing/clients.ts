import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";

export type Protocol = "grpc" | "grpc-web" | "connect";

/** A client of `service` over one protocol: gRPC over h2c, or the browser transports over fetch. */
export function clientFor<S extends DescService>(service: S, baseUrl: string, protocol: Protocol, token?: string): Client<S> {
  const interceptors: Interceptor[] = token
    ? [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        },
      ]
    : [];
  const transport =
    protocol === "grpc"
      ? createGrpcTransport({ baseUrl, interceptors })
      : protocol === "grpc-web"
        ? createGrpcWebTransport({ baseUrl, interceptors })
        : createConnectTransport({ baseUrl, interceptors });
  return createClient(service, transport);
}
