/**
 * One operator connection to a gateway's WebSocket (OpenClaw protocol 4):
 * the `connect.challenge` → signed `connect` → `hello-ok` handshake, then
 * request/response frames matched by id and a stream of events. Used for
 * what the HTTP API does not carry: approvals.
 *
 * Frames: `{type: "req", id, method, params}` out; `{type: "res", id, ok,
 * payload | error}` and `{type: "event", event, payload}` in. The gateway
 * sends a `tick` event every `policy.tickIntervalMs`; a connection that
 * hears nothing for three intervals is taken as dead and closed.
 *
 * @module
 */
import { z } from "zod";
import { BridgeError } from "../errors.ts";
import type { Instance } from "../config.ts";
import { VERSION } from "../version.ts";
import { deviceAuthPayload, type DeviceIdentity } from "./device_identity.ts";
import { abortedError, badReplyError, unreachableError } from "./errors.ts";

/** The protocol version we speak. */
export const PROTOCOL_VERSION = 4;

/** Frames larger than this (characters) close the connection. */
export const MAX_FRAME_CHARS = 4 * 1024 * 1024;

/** How the bridge introduces itself (an allowed OpenClaw client id and mode). */
export const CLIENT = { id: "cli", mode: "cli" } as const;

/** Requests still unanswered after this fail with `gateway_timeout`. */
const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;

const challengeFrame = z.object({
  type: z.literal("event"),
  event: z.literal("connect.challenge"),
  payload: z.object({ nonce: z.string().min(1), ts: z.number().int().nonnegative() }),
});

const errorShape = z.object({
  code: z.string().optional(),
  message: z.string().optional(),
  details: z.object({ code: z.string().optional(), reason: z.string().optional() }).loose()
    .optional(),
}).loose();

const responseFrame = z.object({
  type: z.literal("res"),
  id: z.string(),
  ok: z.boolean(),
  payload: z.unknown().optional(),
  error: errorShape.optional(),
});

const eventFrame = z.object({
  type: z.literal("event"),
  event: z.string(),
  payload: z.unknown().optional(),
});

const helloOk = z.object({
  type: z.literal("hello-ok"),
  protocol: z.number(),
  auth: z.object({ scopes: z.array(z.string()).optional() }).loose().optional(),
  policy: z.object({ tickIntervalMs: z.number().positive().optional() }).loose().optional(),
}).loose();

/** A gateway's refusal of one request, as the gateway worded it. */
export interface GatewayRpcFailure {
  /** e.g. `INVALID_REQUEST`, `NOT_FOUND`, `UNAVAILABLE`. */
  code: string;
  /** The gateway's message (may be empty). */
  message: string;
  /** `error.details.code`, when given (e.g. `AUTH_TOKEN_MISMATCH`). */
  detailCode: string | undefined;
}

/** A request the gateway answered with `ok: false`. */
export class GatewayRpcError extends Error {
  /** What the gateway said. */
  readonly failure: GatewayRpcFailure;
  /** Wraps `failure`. */
  constructor(method: string, failure: GatewayRpcFailure) {
    super(`${method}: ${failure.code} ${failure.message}`);
    this.name = "GatewayRpcError";
    this.failure = failure;
  }
}

/** What {@linkcode GatewaySocket.connect} needs. */
export interface GatewaySocketOptions {
  /** The instance: its URL (http → ws), token and timeout. */
  instance: Instance;
  /** Signs the challenge. */
  device: DeviceIdentity;
  /** Operator scopes asked for, e.g. `["operator.approvals"]`. */
  scopes: readonly string[];
  /** Client capabilities advertised, e.g. `["approvals"]`. */
  caps?: readonly string[];
  /** Aborts the handshake. */
  signal?: AbortSignal;
}

/** The instance's base URL as a WebSocket URL (`http` → `ws`, `https` → `wss`). */
export function socketUrl(instance: Pick<Instance, "url">): string {
  const url = new URL(instance.url);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

/** Maps a refused handshake to a coded error naming the fix. */
export function handshakeError(
  instance: Instance,
  device: Pick<DeviceIdentity, "id">,
  failure: GatewayRpcFailure,
): BridgeError {
  const code = `${failure.detailCode ?? ""} ${failure.code}`;
  const said = failure.message ? ` (${clip(failure.message)})` : "";
  if (/PAIRING|NOT_PAIRED/i.test(code) || /pairing required|not paired/i.test(failure.message)) {
    return new BridgeError(
      "gateway_pairing_required",
      `The gateway for instance "${instance.name}" has not paired this bridge's device yet${said}.`,
      `On the gateway's machine run: openclaw devices approve ${device.id} (loopback connections pair on their own).`,
    );
  }
  if (/AUTH|UNAUTHORIZED/i.test(code)) {
    return new BridgeError(
      "gateway_unauthorized",
      `The gateway for instance "${instance.name}" refused the bridge's token on its WebSocket${said}.`,
      "Check OPENCLAW_GATEWAY_TOKEN (or the instance's token).",
    );
  }
  if (/SCOPE|FORBIDDEN/i.test(code) || /missing scope/i.test(failure.message)) {
    return new BridgeError(
      "gateway_forbidden",
      `The gateway for instance "${instance.name}" does not grant the bridge the operator scope it needs${said}.`,
      "Use the gateway's shared token (operator access), or approve the scope for this device.",
    );
  }
  return new BridgeError(
    "gateway_rejected",
    `The gateway for instance "${instance.name}" refused the WebSocket connection${said}.`,
    "Check that the gateway is OpenClaw 2026.9 or newer, and its log.",
  );
}

/** An open connection that ended: `gateway_disconnected`, saying how. */
function socketLost(instance: Instance, how: string): BridgeError {
  return new BridgeError(
    "gateway_disconnected",
    `The gateway for instance "${instance.name}" ${how}.`,
    "Retry; if it keeps happening, check the gateway's log.",
  );
}

function clip(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 300 ? flat.slice(0, 300) + "…" : flat;
}

function failureOf(error: z.output<typeof errorShape> | undefined): GatewayRpcFailure {
  return {
    code: error?.code ?? "UNKNOWN",
    message: error?.message ?? "",
    detailCode: error?.details?.code,
  };
}

/** An open, authenticated operator connection. */
export class GatewaySocket {
  /** Scopes the gateway granted this connection. */
  readonly scopes: readonly string[];
  /** Resolves once the connection is closed, for whatever reason. */
  readonly closed: Promise<void>;
  #ws: WebSocket;
  #instance: Instance;
  #next = 0;
  #pending = new Map<
    string,
    { resolve(v: unknown): void; reject(e: unknown): void; method: string }
  >();
  #listeners = new Set<(event: string, payload: unknown) => void>();
  #lastHeard = Date.now();
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #closeReason: BridgeError | undefined;

  private constructor(ws: WebSocket, instance: Instance, scopes: readonly string[]) {
    this.#ws = ws;
    this.#instance = instance;
    this.scopes = scopes;
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", () => {
        this.#failAll();
        if (this.#watchdog !== undefined) clearInterval(this.#watchdog);
        resolve();
      });
    });
    ws.addEventListener("message", (event) => this.#onMessage(event.data));
  }

  /**
   * Opens the socket and completes the handshake within the instance's
   * timeout.
   *
   * @throws {BridgeError} `gateway_unreachable`, `gateway_timeout`,
   *   `gateway_unauthorized`, `gateway_pairing_required`, `gateway_forbidden`,
   *   `gateway_rejected`, `gateway_bad_reply` or `cancelled`.
   */
  static async connect(options: GatewaySocketOptions): Promise<GatewaySocket> {
    const { instance, device } = options;
    const ws = new WebSocket(socketUrl(instance));
    const timeout = AbortSignal.timeout(instance.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const frames: string[] = [];
    let wake: (() => void) | undefined;
    let ended: BridgeError | undefined;
    const onMessage = (event: MessageEvent) => {
      frames.push(typeof event.data === "string" ? event.data : "");
      wake?.();
    };
    const onEnd = (event: Event) => {
      ended ??= event.type === "error"
        ? unreachableError(instance, (event as ErrorEvent).message ?? "")
        : new BridgeError(
          "gateway_disconnected",
          `The gateway for instance "${instance.name}" closed its WebSocket during the handshake${
            (event as CloseEvent).reason ? ` (${clip((event as CloseEvent).reason)})` : ""
          }.`,
          "Check that the gateway is OpenClaw 2026.9 or newer, and its log.",
        );
      wake?.();
    };
    const onAbort = () => wake?.();
    ws.addEventListener("message", onMessage);
    ws.addEventListener("error", onEnd);
    ws.addEventListener("close", onEnd);
    signal.addEventListener("abort", onAbort);
    const nextFrame = async (): Promise<unknown> => {
      while (frames.length === 0) {
        if (signal.aborted) {
          throw timeout.aborted
            ? new BridgeError(
              "gateway_timeout",
              `The gateway for instance "${instance.name}" did not complete the WebSocket handshake within ${instance.timeoutMs} ms.`,
              "Check the gateway's log; raise OPENCLAW_TIMEOUT_MS if it is slow to start.",
            )
            : abortedError(instance, false);
        }
        if (ended) throw ended;
        await new Promise<void>((resolve) => wake = resolve);
        wake = undefined;
      }
      const text = frames.shift()!;
      if (text.length > MAX_FRAME_CHARS) throw badReplyError(instance, "an oversized frame");
      try {
        return JSON.parse(text);
      } catch {
        throw badReplyError(instance, "a WebSocket frame that is not JSON");
      }
    };
    try {
      // The gateway speaks first: a challenge to sign.
      let challenge: z.output<typeof challengeFrame> | undefined;
      while (!challenge) {
        const frame = await nextFrame();
        const parsed = challengeFrame.safeParse(frame);
        if (parsed.success) challenge = parsed.data;
        else if ((frame as { type?: unknown })?.type !== "event") {
          throw badReplyError(instance, "no connect.challenge before other frames");
        }
      }
      const role = "operator";
      const platform = Deno.build.os;
      const deviceFamily = "server";
      const signedAt = challenge.payload.ts;
      const signature = await device.sign(deviceAuthPayload({
        deviceId: device.id,
        clientId: CLIENT.id,
        clientMode: CLIENT.mode,
        role,
        scopes: options.scopes,
        signedAtMs: signedAt,
        token: instance.token,
        nonce: challenge.payload.nonce,
        platform,
        deviceFamily,
      }));
      ws.send(JSON.stringify({
        type: "req",
        id: "connect",
        method: "connect",
        params: {
          minProtocol: PROTOCOL_VERSION,
          maxProtocol: PROTOCOL_VERSION,
          client: {
            id: CLIENT.id,
            displayName: "OpenClaw MCP bridge",
            version: VERSION,
            platform,
            deviceFamily,
            mode: CLIENT.mode,
          },
          role,
          scopes: options.scopes,
          caps: options.caps ?? [],
          commands: [],
          permissions: {},
          ...(instance.token ? { auth: { token: instance.token } } : {}),
          userAgent: `openclaw-mcp/${VERSION}`,
          device: {
            id: device.id,
            publicKey: device.publicKey,
            signature,
            signedAt,
            nonce: challenge.payload.nonce,
          },
        },
      }));
      let hello: z.output<typeof helloOk> | undefined;
      while (!hello) {
        const frame = responseFrame.safeParse(await nextFrame());
        if (!frame.success || frame.data.id !== "connect") continue; // events before the answer
        if (!frame.data.ok) throw handshakeError(instance, device, failureOf(frame.data.error));
        const parsed = helloOk.safeParse(frame.data.payload);
        if (!parsed.success) throw badReplyError(instance, "a connect answer that is not hello-ok");
        hello = parsed.data;
      }
      const socket = new GatewaySocket(ws, instance, hello.auth?.scopes ?? options.scopes);
      socket.#startWatchdog(hello.policy?.tickIntervalMs ?? 30_000);
      return socket;
    } catch (error) {
      ws.close();
      throw error;
    } finally {
      ws.removeEventListener("message", onMessage);
      ws.removeEventListener("error", onEnd);
      ws.removeEventListener("close", onEnd);
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Whether the connection is still open. */
  get open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  /**
   * Sends `method` and waits for its answer's payload.
   *
   * @throws {GatewayRpcError} when the gateway answers `ok: false`.
   * @throws {BridgeError} when the connection closes first (`gateway_disconnected`),
   *   on timeout (`gateway_timeout`) or cancellation (`cancelled`).
   */
  request(
    method: string,
    params: Record<string, unknown>,
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<unknown> {
    if (!this.open) return Promise.reject(this.#closedError());
    const id = `r${++this.#next}`;
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        this.#pending.delete(id);
      };
      const onAbort = () => {
        settle();
        reject(abortedError(this.#instance, false));
      };
      const timer = setTimeout(() => {
        settle();
        reject(
          new BridgeError(
            "gateway_timeout",
            `The gateway for instance "${this.#instance.name}" did not answer ${method} within ${timeoutMs} ms.`,
            "Check the gateway's log, then retry.",
          ),
        );
      }, timeoutMs);
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, {
        method,
        resolve: (value) => {
          settle();
          resolve(value);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      });
      this.#ws.send(JSON.stringify({ type: "req", id, method, params }));
    });
  }

  /** Calls `listener` for every event frame until the returned function is called. */
  onEvent(listener: (event: string, payload: unknown) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Closes the connection; pending requests fail with `gateway_disconnected`. */
  close(): void {
    if (this.#ws.readyState === WebSocket.CONNECTING || this.#ws.readyState === WebSocket.OPEN) {
      this.#ws.close(1000, "bye");
    }
  }

  #startWatchdog(tickMs: number): void {
    const limit = tickMs * 3;
    this.#watchdog = setInterval(() => {
      if (Date.now() - this.#lastHeard > limit) {
        this.#closeReason = socketLost(this.#instance, "went silent on its WebSocket");
        this.close();
      }
    }, Math.min(tickMs, 30_000));
    Deno.unrefTimer(this.#watchdog);
  }

  #onMessage(data: unknown): void {
    this.#lastHeard = Date.now();
    if (typeof data !== "string" || data.length > MAX_FRAME_CHARS) {
      this.#closeReason = badReplyError(this.#instance, "an oversized or binary frame");
      this.close();
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return; // Not ours to answer; the gateway's own garbage is ignored.
    }
    const response = responseFrame.safeParse(frame);
    if (response.success) {
      const waiter = this.#pending.get(response.data.id);
      if (!waiter) return;
      if (response.data.ok) waiter.resolve(response.data.payload);
      else waiter.reject(new GatewayRpcError(waiter.method, failureOf(response.data.error)));
      return;
    }
    const event = eventFrame.safeParse(frame);
    if (!event.success) return;
    for (const listener of this.#listeners) {
      try {
        listener(event.data.event, event.data.payload);
      } catch {
        // A listener's failure is its own; the others still hear the event.
      }
    }
  }

  #closedError(): BridgeError {
    return this.#closeReason ?? socketLost(this.#instance, "closed its WebSocket");
  }

  #failAll(): void {
    const error = this.#closedError();
    for (const waiter of [...this.#pending.values()]) waiter.reject(error);
    this.#pending.clear();
  }
}
