/**
 * `@openclaw/mcp/server`: the bridge as a library, for embedding it in your
 * own program or transport.
 *
 * ```ts
 * import { createServer, GatewayRegistry, silentLogger } from "jsr:@openclaw/mcp/server";
 * import { InMemoryTransport } from "npm:@modelcontextprotocol/server@^2.4.0";
 *
 * const gateways = new GatewayRegistry([{
 *   name: "default", url: "http://127.0.0.1:18789", token: Deno.env.get("OPENCLAW_GATEWAY_TOKEN"),
 *   timeoutMs: 120_000, isDefault: true, model: "openclaw",
 * }]);
 * const server = createServer({ gateways, log: silentLogger });
 * const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
 * await server.connect(serverSide);
 * ```
 *
 * @module
 */
export {
  type BridgeServer,
  type BridgeTransport,
  createServer,
  type Era,
  type ServerDeps,
} from "./server.ts";
export {
  type Command,
  type Config,
  ConfigError,
  type ConfigSources,
  type Instance,
  loadConfig,
} from "./config.ts";
export { type OptionMeta, OPTIONS, type OptionSpec } from "./config_schema.ts";
export { helpText } from "./config_help.ts";
export { VERSION } from "./version.ts";
export { BridgeError, type ErrorBody, type ErrorCode } from "./errors.ts";
export {
  createLogger,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  silentLogger,
} from "./log.ts";
export {
  type ChatRequest,
  GatewayClient,
  type GatewayClientOptions,
  type GatewayRequestRecord,
  type HistoryRequest,
  type SessionListRequest,
} from "./gateway/client.ts";
export type {
  Attachment,
  HistoryMessage,
  HistoryPage,
  SessionPage,
  SessionRow,
} from "./gateway/recall.ts";
export type { RecallAccess, RecallMode } from "./tools/recall.ts";
export type { ApprovalAccess } from "./tools/approvals.ts";
export {
  type Approval,
  type ApprovalKind,
  type ApprovalListener,
  type ApprovalsLog,
  type ApprovalsTiming,
  type Decision,
  DECISIONS,
  GatewayApprovals,
  type SocketOpener,
} from "./gateway/approvals.ts";
export { GatewaySocket, type GatewaySocketOptions } from "./gateway/gateway_socket.ts";
export type { DeviceIdentity } from "./gateway/device_identity.ts";
export type { ChatReply, Usage } from "./gateway/reply.ts";
export type { HealthReport, HealthStatus } from "./gateway/health.ts";
export { GatewayRegistry } from "./gateway/registry.ts";
export {
  type Claim,
  type ClaimOptions,
  type ListOptions,
  type PartialTail,
  type RecentOptions,
  type RecentTasks,
  type Submission,
  type TaskError,
  type TaskPage,
  type TaskRecord,
  type TaskResultMeta,
  type TaskStatus,
  TaskStore,
  type TaskStoreOptions,
} from "./tasks/store.ts";
export { type RunnerOptions, TaskRunner } from "./tasks/runner.ts";
export { defaultKvPath, openTaskKv } from "./tasks/kv.ts";
