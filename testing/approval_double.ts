/**
 * The test gateway's operator WebSocket: OpenClaw's protocol-4 handshake
 * (challenge, signed `connect`, `hello-ok`), the approval methods and
 * events, and ticks. Faithful to the frames measured on the real gateway
 * (docs/notes/openclaw-approvals.md); fault switches for the refusals.
 *
 * @module
 */
import {
  deviceAuthPayload,
  deviceIdOf,
  verifyDeviceSignature,
} from "../src/gateway/device_identity.ts";

/** An approval the double holds. */
export interface DoubleApproval {
  id: string;
  kind: "exec" | "plugin";
  request: Record<string, unknown>;
  createdAtMs: number;
  expiresAtMs: number;
  /** Settles with the decision, or null on expiry. */
  decided: Promise<string | null>;
}

/** A `connect` the double accepted or refused. */
export interface ConnectRecord {
  params: Record<string, unknown>;
  accepted: boolean;
  reason: string | null;
}

interface Client {
  socket: WebSocket;
  nonce: string;
  ts: number;
  connected: boolean;
  scopes: string[];
}

function frame(socket: WebSocket, value: unknown): void {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(value));
}

/** The approval side of the test gateway. */
export class ApprovalDouble {
  /** Shared token wanted in `connect.params.auth.token` (null: none). */
  token: string | null;
  /** `required`: devices not in {@linkcode paired} are refused with PAIRING_REQUIRED. */
  pairing: "auto" | "required" = "auto";
  /** Devices paired (ids). */
  readonly paired = new Set<string>();
  /** Scopes granted when asked for. */
  grantable = ["operator.read", "operator.write", "operator.approvals", "operator.admin"];
  /** Milliseconds between ticks. */
  tickIntervalMs = 30_000;
  /** Every connect, in order. */
  readonly connects: ConnectRecord[] = [];
  /** Pending approvals by id. */
  readonly pending = new Map<string, DoubleApproval>();
  /** Every resolution, in order. */
  readonly resolutions: { id: string; decision: string }[] = [];
  /** Every request frame after the handshake (method and params). */
  readonly calls: { method: string; params: Record<string, unknown> }[] = [];
  #clients = new Set<Client>();
  #settle = new Map<string, (decision: string | null) => void>();
  #ticker: ReturnType<typeof setInterval> | undefined;
  #next = 0;

  constructor(token: string | null) {
    this.token = token;
  }

  /** Open, authenticated connections. */
  get connections(): number {
    return [...this.#clients].filter((c) => c.connected).length;
  }

  /** Upgrades `request` and serves it. */
  upgrade(request: Request): Response {
    const { socket, response } = Deno.upgradeWebSocket(request);
    const client: Client = {
      socket,
      nonce: crypto.randomUUID(),
      ts: Date.now(),
      connected: false,
      scopes: [],
    };
    this.#clients.add(client);
    socket.onopen = () => {
      frame(socket, {
        type: "event",
        event: "connect.challenge",
        payload: { nonce: client.nonce, ts: client.ts },
      });
    };
    socket.onmessage = (event) => this.#onMessage(client, String(event.data));
    socket.onclose = () => this.#clients.delete(client);
    socket.onerror = () => {};
    this.#ticker ??= setInterval(() => {
      for (const c of this.#clients) {
        if (c.connected) {
          frame(c.socket, { type: "event", event: "tick", payload: { ts: Date.now() } });
        }
      }
    }, this.tickIntervalMs);
    return response;
  }

  /**
   * Raises an approval as the gateway does when the agent wants to run
   * `command` in `sessionKey` (e.g. `agent:main:mcp-…:s1`), and broadcasts it.
   */
  raise(
    kind: "exec" | "plugin",
    request: Record<string, unknown>,
    timeoutMs = 120_000,
  ): DoubleApproval {
    const id = kind === "exec" ? crypto.randomUUID() : `plugin:${crypto.randomUUID()}`;
    const createdAtMs = Date.now();
    let settle!: (decision: string | null) => void;
    const decided = new Promise<string | null>((resolve) => settle = resolve);
    const approval: DoubleApproval = {
      id,
      kind,
      request,
      createdAtMs,
      expiresAtMs: createdAtMs + timeoutMs,
      decided,
    };
    this.pending.set(id, approval);
    const timer = setTimeout(() => this.#finish(id, null), timeoutMs);
    this.#settle.set(id, (decision) => {
      clearTimeout(timer);
      settle(decision);
    });
    this.#broadcast(`${kind}.approval.requested`, this.#wire(approval));
    return approval;
  }

  /** Resolves `id` as another operator would (first answer wins). */
  resolve(id: string, decision: string): boolean {
    if (!this.pending.has(id)) return false;
    this.#finish(id, decision);
    return true;
  }

  /** Closes every connection (a gateway restart, as the clients see it). */
  dropAll(): void {
    for (const c of this.#clients) c.socket.close(1012, "restart");
  }

  /** Stops ticking and closes everything. */
  close(): void {
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    this.#ticker = undefined;
    this.dropAll();
    for (const id of [...this.pending.keys()]) this.#finish(id, null);
  }

  #wire(approval: DoubleApproval) {
    return {
      approvalKind: approval.kind,
      id: approval.id,
      request: approval.request,
      createdAtMs: approval.createdAtMs,
      expiresAtMs: approval.expiresAtMs,
    };
  }

  #finish(id: string, decision: string | null): void {
    const approval = this.pending.get(id);
    if (!approval) return;
    this.pending.delete(id);
    if (decision !== null) this.resolutions.push({ id, decision });
    this.#settle.get(id)?.(decision);
    this.#settle.delete(id);
    this.#broadcast(`${approval.kind}.approval.resolved`, {
      id,
      decision: decision ?? "deny",
      ts: Date.now(),
      ...(decision === null ? { reason: "timeout" } : {}),
    });
  }

  #broadcast(event: string, payload: unknown): void {
    for (const c of this.#clients) {
      // As measured: agent-raised approvals reach admin operators only.
      if (c.connected && c.scopes.includes("operator.admin")) {
        frame(c.socket, { type: "event", event, payload, seq: ++this.#next });
      }
    }
  }

  async #onMessage(client: Client, text: string): Promise<void> {
    let message: { type?: string; id?: string; method?: string; params?: Record<string, unknown> };
    try {
      message = JSON.parse(text);
    } catch {
      client.socket.close(1008, "invalid frame");
      return;
    }
    if (message.type !== "req" || typeof message.id !== "string") return;
    const reply = (ok: boolean, body: unknown) =>
      frame(client.socket, {
        type: "res",
        id: message.id,
        ok,
        ...(ok ? { payload: body } : { error: body }),
      });
    if (!client.connected) {
      if (message.method !== "connect") {
        reply(false, { code: "INVALID_REQUEST", message: "first request must be connect" });
        client.socket.close(1008, "connect required");
        return;
      }
      const refusal = await this.#checkConnect(client, message.params ?? {});
      this.connects.push({
        params: message.params ?? {},
        accepted: !refusal,
        reason: refusal?.message ?? null,
      });
      if (refusal) {
        reply(false, refusal);
        client.socket.close(1008, refusal.message);
        return;
      }
      const asked = (message.params?.scopes as string[] | undefined) ?? [];
      client.scopes = asked.filter((s) => this.grantable.includes(s));
      client.connected = true;
      reply(true, {
        type: "hello-ok",
        protocol: 4,
        server: { version: "test", connId: crypto.randomUUID() },
        features: {
          methods: [
            "exec.approval.list",
            "exec.approval.resolve",
            "plugin.approval.list",
            "plugin.approval.resolve",
          ],
          events: ["exec.approval.requested", "exec.approval.resolved", "tick"],
        },
        snapshot: {},
        auth: { role: "operator", scopes: client.scopes },
        policy: {
          maxPayload: 26214400,
          maxBufferedBytes: 52428800,
          tickIntervalMs: this.tickIntervalMs,
        },
      });
      return;
    }
    const method = message.method ?? "";
    const params = message.params ?? {};
    this.calls.push({ method, params });
    const kind = method.startsWith("plugin.") ? "plugin" : "exec";
    if (!client.scopes.includes("operator.approvals")) {
      reply(false, {
        code: "FORBIDDEN",
        message: "missing scope: operator.approvals",
        details: { code: "MISSING_SCOPE", missingScope: "operator.approvals" },
      });
      return;
    }
    if (method === "exec.approval.list" || method === "plugin.approval.list") {
      // Agent-raised ones are listed to admin operators only.
      const visible = client.scopes.includes("operator.admin") ? [...this.pending.values()] : [];
      reply(true, visible.filter((a) => a.kind === kind).map((a) => this.#wire(a)));
      return;
    }
    if (method === "exec.approval.resolve" || method === "plugin.approval.resolve") {
      const id = String(params.id ?? "");
      const decision = String(params.decision ?? "");
      if (!["allow-once", "allow-always", "deny"].includes(decision)) {
        reply(false, { code: "INVALID_REQUEST", message: "invalid decision" });
        return;
      }
      const approval = this.pending.get(id);
      if (!approval || approval.kind !== kind) {
        const answered = this.resolutions.some((r) => r.id === id);
        reply(
          false,
          answered
            ? { code: "APPROVAL_ALREADY_RESOLVED", message: "approval already resolved" }
            : { code: "APPROVAL_NOT_FOUND", message: "unknown or expired approval id" },
        );
        return;
      }
      this.#finish(id, decision);
      reply(true, { ok: true });
      return;
    }
    reply(false, { code: "INVALID_REQUEST", message: `unknown method: ${method}` });
  }

  async #checkConnect(
    client: Client,
    params: Record<string, unknown>,
  ): Promise<{ code: string; message: string; details?: Record<string, unknown> } | null> {
    const auth = params.auth as { token?: string } | undefined;
    if (this.token !== null && auth?.token !== this.token) {
      return {
        code: "INVALID_REQUEST",
        message: "unauthorized: gateway token mismatch",
        details: { code: "AUTH_TOKEN_MISMATCH" },
      };
    }
    const device = params.device as Record<string, unknown> | undefined;
    const clientInfo = params.client as Record<string, unknown> | undefined;
    if (!device || typeof device.publicKey !== "string" || typeof device.signature !== "string") {
      return {
        code: "INVALID_REQUEST",
        message: "device identity required",
        details: { code: "DEVICE_IDENTITY_REQUIRED" },
      };
    }
    if (device.nonce !== client.nonce) {
      return {
        code: "INVALID_REQUEST",
        message: "device nonce mismatch",
        details: { code: "DEVICE_AUTH_NONCE_MISMATCH" },
      };
    }
    if (device.id !== await deviceIdOf(device.publicKey)) {
      return {
        code: "INVALID_REQUEST",
        message: "device identity mismatch",
        details: { code: "DEVICE_AUTH_DEVICE_ID_MISMATCH" },
      };
    }
    const payload = deviceAuthPayload({
      deviceId: String(device.id),
      clientId: String(clientInfo?.id ?? ""),
      clientMode: String(clientInfo?.mode ?? ""),
      role: String(params.role ?? ""),
      scopes: (params.scopes as string[] | undefined) ?? [],
      signedAtMs: Number(device.signedAt),
      token: auth?.token,
      nonce: client.nonce,
      platform: String(clientInfo?.platform ?? ""),
      deviceFamily: String(clientInfo?.deviceFamily ?? ""),
    });
    if (!await verifyDeviceSignature(device.publicKey, payload, device.signature)) {
      return {
        code: "INVALID_REQUEST",
        message: "device signature invalid",
        details: { code: "DEVICE_AUTH_SIGNATURE_INVALID" },
      };
    }
    if (this.pairing === "required" && !this.paired.has(String(device.id))) {
      return {
        code: "NOT_PAIRED",
        message: "pairing required",
        details: { code: "PAIRING_REQUIRED" },
      };
    }
    this.paired.add(String(device.id));
    return null;
  }
}
