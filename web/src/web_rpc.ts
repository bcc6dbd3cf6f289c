// The page's one connection to the server: gRPC-Web, binary (the server's connectrpc door does
// not speak grpc-web-text), same origin, with the API key from the page as bearer metadata.
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { AvatarForge } from "./gen/avatarforge/v1/avatarforge_pb";

export type AvatarForgeClient = Client<typeof AvatarForge>;

// `apiKey` is read on every call, so a key typed after the page loaded applies from then on.
export function connect(apiKey: () => string): AvatarForgeClient {
  const bearer: Interceptor = (next) => (req) => {
    const key = apiKey().trim();
    if (key) req.header.set("authorization", `Bearer ${key}`);
    return next(req);
  };
  const transport = createGrpcWebTransport({
    baseUrl: location.origin,
    useBinaryFormat: true,
    interceptors: [bearer],
  });
  return createClient(AvatarForge, transport);
}

// "INVALID_ARGUMENT: strength = 9 is out of range ..." : the status name and the server's own
// message, which already says what to fix.
export function describeError(err: unknown): string {
  if (!(err instanceof ConnectError)) return err instanceof Error ? err.message : String(err);
  const e = err;
  return `${Code[e.code] ?? e.code}: ${e.rawMessage}`;
}

export function isUnimplemented(err: unknown): boolean {
  return ConnectError.from(err).code === Code.Unimplemented;
}
