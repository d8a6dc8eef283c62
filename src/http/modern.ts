/**
 * The 2026-07-28 leg of `/mcp`: each request is answered on its own by a
 * fresh server for its principal (no handshake, no session, any replica),
 * through the SDK's `createMcpHandler` in its strict mode. The SDK checks
 * the request's `_meta` envelope, the `MCP-Protocol-Version`, `Mcp-Method`
 * and `Mcp-Name` headers against the body, answers an unsupported version
 * with -32022 and the supported list, and streams progress as SSE when a
 * handler sends any (a plain JSON answer otherwise).
 *
 * 2025-era requests (no envelope: `initialize`, session traffic) never come
 * here; `isLegacy` tells them apart exactly as the SDK's own router does.
 *
 * @module
 */
import {
  type AuthInfo,
  createMcpHandler,
  isLegacyRequest,
  type McpHttpHandler,
} from "@modelcontextprotocol/server";
import type { BridgeServer, Era } from "../server.ts";
import type { Logger } from "../log.ts";

/** The 2026-07-28 handler of one app. */
export interface ModernLeg {
  /** Answers a 2026-07-28 request of `owner`; `body` is the parsed JSON of a POST. */
  handle(request: Request, owner: string, body: unknown): Promise<Response>;
  /** Ends open streams. */
  close(): Promise<void>;
}

/**
 * Whether a request belongs to the 2025 era (no per-request envelope claim);
 * false for everything the modern leg answers, its refusals included.
 */
export function isLegacy(request: Request, body: unknown): Promise<boolean> {
  return isLegacyRequest(request, body);
}

/**
 * The principal rides to the factory as the SDK's pass-through `authInfo`;
 * no token is put there (the request was authenticated before this point).
 */
function authInfo(owner: string): AuthInfo {
  return { token: "", clientId: owner, scopes: [], extra: { principal: owner } };
}

/** Longest refusal message logged (`mcp_modern_refused`, debug). */
export const MAX_LOGGED_ERROR = 500;

/** Builds the leg over a server factory. */
export function modernLeg(
  createServer: (owner: string, era: Era) => BridgeServer,
  log: Logger,
): ModernLeg {
  const options = (responseMode: "auto" | "sse") => ({
    legacy: "reject" as const,
    responseMode,
    // The SDK's refusals quote the request (a header, an envelope value, a
    // tool name) in full: a 4 MiB body made a 4 MB log line per request.
    onerror: (error: Error) =>
      log.debug("mcp_modern_refused", { error: error.message.slice(0, MAX_LOGGED_ERROR) }),
  });
  const factory = ({ authInfo }: { authInfo?: AuthInfo }) =>
    createServer(String(authInfo?.extra?.principal ?? ""), "modern");
  // A tool call may run for minutes. Answered as one JSON body, nothing is
  // written until it ends, and Deno does not notice a client that closed
  // the connection meanwhile: the call would run on to the gateway's
  // timeout. As an SSE stream (headers at once, keep-alives), closing the
  // response cancels the call, which is how 2026-07-28 clients cancel.
  const calls: McpHttpHandler = createMcpHandler(factory, options("sse"));
  // Everything else is quick: one JSON body.
  const rest: McpHttpHandler = createMcpHandler(factory, options("auto"));
  return {
    handle: (request, owner, body) => {
      const handler = (body as { method?: unknown } | null)?.method === "tools/call" ? calls : rest;
      return handler.fetch(request, { authInfo: authInfo(owner), parsedBody: body });
    },
    close: async () => {
      await Promise.all([calls.close(), rest.close()]);
    },
  };
}
