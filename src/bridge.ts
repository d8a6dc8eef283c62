/**
 * Wires the parts together for an entry point: gateway clients, the task
 * store and its runner, the shared toolset, and a factory for MCP servers.
 *
 * @module
 */
import type { Config } from "./config.ts";
import { GatewayRegistry } from "./gateway/registry.ts";
import { namespaceSessions, SessionKeys } from "./gateway/session_key.ts";
import { type Logger, observeLogger } from "./log.ts";
import { BridgeMetrics } from "./metrics/bridge_metrics.ts";
import { type BridgeServer, createServer, createToolset, type Era } from "./server.ts";
import { TaskRunner } from "./tasks/runner.ts";
import { TaskStore } from "./tasks/store.ts";
import { oauthGrantOf, tokenId } from "./auth/bearer.ts";
import { OAuthStore } from "./auth/store.ts";
import type { RecallAccess } from "./tools/recall.ts";
import type { ApprovalAccess } from "./tools/approvals.ts";
import { GatewayApprovals, operatorOpener } from "./gateway/approvals.ts";
import { type DeviceIdentity, loadDeviceIdentity } from "./gateway/device_identity.ts";

/** A running bridge, ready to serve any transport. */
export interface Bridge {
  /** Gateway clients by instance name, shared by every server of this bridge. */
  gateways: GatewayRegistry;
  /** Aborted at shutdown: cancels calls in flight and hands running tasks back at once. */
  shutdown: AbortController;
  /** This process's metrics (`/metrics`), fed by the bridge's events and gateway requests. */
  metrics: BridgeMetrics;
  /**
   * The logger to give the transport (HTTP app, OAuth): the one passed in,
   * observed by {@linkcode Bridge.metrics}.
   */
  log: Logger;
  /**
   * A new MCP server acting for `owner` (its tasks, its session keys) in one
   * protocol era (default `legacy`). Cheap: the toolset, store and runner
   * are shared.
   */
  serverFor(owner: string, era?: Era): BridgeServer;
  /** Starts the task runner if `deferRunner` held it back (idempotent). */
  startRunner(): void;
  /**
   * Stops the runner (running tasks go back to the queue); resolves when
   * every release is committed. Safe to call again, and after `shutdown`
   * aborted (which starts the same stop).
   */
  stop(): Promise<void>;
}

/**
 * Starts the task runner (unless `deferRunner`: then on `startRunner()`) and
 * returns the bridge. Session keys are namespaced
 * per principal when more than one can exist (`MCP_SESSION_NAMESPACE`);
 * pending tasks are held to the per-principal quota and deadline of
 * `config.tasks`.
 */
export function startBridge(
  config: Config,
  effects: { kv: Deno.Kv; log: Logger; deferRunner?: boolean },
): Bridge {
  const { kv } = effects;
  // Metrics need the toolset's names, and the toolset needs the runner,
  // which needs the logger: events reach the metrics through `fed`, set
  // before the runner starts and before any server exists.
  const fed: { metrics?: BridgeMetrics } = {};
  const log = observeLogger(effects.log, (event, fields) => fed.metrics?.record(event, fields));
  const shutdown = new AbortController();
  let device: Promise<DeviceIdentity> | undefined;
  const deviceIdentity = () => device ??= loadDeviceIdentity(kv);
  const gateways = new GatewayRegistry(config.instances, {
    onRequest: (record) => fed.metrics?.gatewayRequest(record),
    approvals: config.approvals === "off"
      ? undefined
      : (instance) =>
        new GatewayApprovals(instance, operatorOpener(instance, deviceIdentity), {
          log: (event, fields) => log.warn(event, fields),
        }),
  });
  const sessions = new SessionKeys({
    namespaced: namespaceSessions({
      mode: config.sessions.namespace,
      transport: config.transport,
      oauth: config.auth.enabled,
      staticTokens: config.http.authTokens.length,
    }),
    allowInternalKeys: config.sessions.allowInternalKeys,
  });
  const store = new TaskStore(kv, {
    ttlMs: config.tasks.ttlMs,
    maxPending: config.tasks.maxPending,
    maxPendingBytes: config.tasks.maxPendingBytes,
    pendingTtlMs: config.tasks.pendingTtlMs,
  });
  const runner = new TaskRunner({
    store,
    gateways,
    log,
    sessionKeys: sessions,
    concurrency: config.tasks.concurrency,
    globalConcurrency: config.tasks.globalConcurrency || undefined,
    leaseMs: config.tasks.leaseMs,
    instanceConcurrency: Object.fromEntries(
      config.instances.filter((i) => i.concurrency).map((i) => [i.name, i.concurrency!]),
    ),
  });
  const tasks = { store, runner, ttlMs: config.tasks.ttlMs };
  // One notion of the owner, for recall and approvals alike.
  const owners = ownerAccess(config, kv);
  const toolset = createToolset({
    gateways,
    tasks,
    sessions,
    recall: recallAccess(config, owners),
    approvals: config.approvals === "off" ? "off" : owners,
  });
  const metrics = fed.metrics = new BridgeMetrics({
    tools: [...toolset.tools.keys()],
    instances: config.instances.map((i) => i.name),
    taskCounts: () => store.countAll(),
    log: effects.log,
  });
  if (!effects.deferRunner) runner.start();
  let stopping: Promise<void> | undefined;
  const stop = () => stopping ??= runner.stop().finally(() => gateways.close());
  // Running tasks go back to the queue the moment shutdown begins (stdin EOF,
  // SIGTERM), not after the transport has drained its replies: a client that
  // closes stdin may kill us soon after, and a task still claimed then would
  // wait out its lease and run again as another attempt.
  shutdown.signal.addEventListener("abort", () => {
    stop().catch((error) => log.error("runner_stop_failed", { error: String(error) }));
  }, { once: true });
  return {
    gateways,
    shutdown,
    metrics,
    log,
    serverFor: (owner, era) =>
      createServer({
        gateways,
        log,
        shutdown: shutdown.signal,
        owner,
        era,
        tasks,
        sessions,
        toolset,
      }),
    startRunner: () => runner.start(),
    stop,
  };
}

/**
 * Who may read conversations: the owners of {@linkcode ownerAccess} (`owners`).
 * Everyone else sees only the conversations it started through this bridge.
 */
export function recallAccess(config: Config, owners: ApprovalAccess): RecallAccess | "off" {
  if (config.recallTools === "off") return "off";
  const namespaced = namespaceSessions({
    mode: config.sessions.namespace,
    transport: config.transport,
    oauth: config.auth.enabled,
    staticTokens: config.http.authTokens.length,
  });
  return { mode: config.recallTools, isOwner: owners.isOwner, namespaced };
}

/**
 * Who the owner is, for recall and approvals alike: on stdio the local
 * user; over HTTP the callers of `MCP_OWNER_TOKENS`, and, with OAuth on, the
 * logins the owner granted owner access on the consent page (looked up in
 * `kv` on every call, so revoking the login ends it at the next call). No one
 * else: ordinary OAuth logins, other static tokens and unauthenticated
 * callers are not owners.
 */
export function ownerAccess(config: Config, kv: Deno.Kv): ApprovalAccess {
  if (config.transport === "stdio") return { isOwner: () => true };
  const owners = Promise.all(config.http.ownerTokens.map(tokenId)).then((ids) => new Set(ids));
  // Owner grants are bound to the owner password: a new one ends them all.
  const grants = config.auth.enabled
    ? new OAuthStore(kv, { ownerSecret: config.auth.ownerPassword })
    : null;
  return {
    isOwner: async (principal) => {
      if ((await owners).has(principal)) return true;
      const grant = grants ? oauthGrantOf(principal) : null;
      return grant !== null && await grants!.isOwnerGrant(grant.clientId, grant.family);
    },
  };
}
