/**
 * Probe of the real gateway's exec approvals (issue 17 part 2), runnable on
 * its own: `deno run -A testing/approvals_probe.ts`.
 *
 * Starts the real gateway with `execApprovals` and the fake LLM, connects an
 * operator WebSocket (token only, no device identity: loopback `cli` client),
 * then runs two chats whose model asks for `exec` (`[[exec:...]]`): the first
 * streamed and allowed with `exec.approval.resolve`, the second not streamed
 * and denied with `approval.resolve`. Prints every frame (token redacted) and
 * exits 1 if the run did not end as expected. Stops everything it started.
 *
 * @module
 */
import { FakeLlm } from "./fake_llm.ts";
import { type RealGateway, startRealGateway } from "./real_gateway.ts";

type Frame = {
  type: string;
  id?: string;
  ok?: boolean;
  event?: string;
  payload?: Record<string, unknown>;
  error?: unknown;
};

const t0 = performance.now();
let secret = "";
function log(tag: string, text: string): void {
  const clean = secret ? text.replaceAll(secret, "<token>") : text;
  console.log(`${((performance.now() - t0) / 1000).toFixed(2).padStart(7)} ${tag} ${clean}`);
}

/** A minimal operator connection: requests by id, events to a listener. */
class Operator {
  #ws: WebSocket;
  #next = 0;
  #pending = new Map<string, (frame: Frame) => void>();
  #waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  /** Every event frame received. */
  readonly events: Frame[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
  }

  /** Opens the socket, answers `connect.challenge` with `connect`, resolves on hello-ok. */
  static connect(url: string, params: Record<string, unknown>): Promise<Operator> {
    const ws = new WebSocket(url);
    const op = new Operator(ws);
    return new Promise((resolve, reject) => {
      ws.onerror = () => reject(new Error("websocket error"));
      ws.onclose = (e) => log("ws", `closed ${e.code} ${e.reason}`);
      ws.onmessage = (m) => {
        const frame = JSON.parse(m.data) as Frame;
        if (frame.type === "event" && frame.event === "connect.challenge") {
          log("<-", m.data);
          op.request("connect", params).then((res) => {
            if (res.ok) resolve(op);
            else reject(new Error(JSON.stringify(res.error)));
          });
          return;
        }
        op.#receive(frame, m.data);
      };
    });
  }

  #receive(frame: Frame, raw: string): void {
    if (frame.type === "res") {
      const payload = frame.payload;
      if (payload?.type === "hello-ok") {
        const { server, auth, policy } = payload as Record<string, unknown>;
        log("<-", `hello-ok (abridged) ${JSON.stringify({ server, auth, policy })}`);
      } else log("<-", raw);
      this.#pending.get(frame.id!)?.(frame);
      this.#pending.delete(frame.id!);
      return;
    }
    this.events.push(frame);
    // Agent stream events are many; health/tick are noise here.
    if (!["health", "tick", "presence", "agent", "chat"].includes(frame.event ?? "")) {
      log("<-", raw);
    }
    for (const w of [...this.#waiters]) {
      if (w.match(frame)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(frame);
      }
    }
  }

  /** Sends a request and waits for its response frame. */
  request(method: string, params: unknown): Promise<Frame> {
    const id = `p${++this.#next}`;
    const frame = { type: "req", id, method, params };
    log("->", JSON.stringify(frame));
    this.#ws.send(JSON.stringify(frame));
    return new Promise((resolve) => this.#pending.set(id, resolve));
  }

  /** The next event matching, or a timeout error. */
  waitEvent(match: (f: Frame) => boolean, timeoutMs: number): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no matching event in time")), timeoutMs);
      this.#waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  close(): void {
    this.#ws.close();
  }
}

/** Posts one chat turn; returns the assistant text (SSE joined when streaming). */
async function chat(
  gateway: RealGateway,
  sessionKey: string,
  message: string,
  stream: boolean,
): Promise<string> {
  log("http", `POST /v1/chat/completions stream=${stream} x-openclaw-session-key=${sessionKey}`);
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${gateway.token}`,
      "content-type": "application/json",
      "x-openclaw-session-key": sessionKey,
    },
    body: JSON.stringify({
      model: "openclaw/main",
      stream,
      messages: [{ role: "user", content: message }],
    }),
  });
  log("http", `status ${res.status}`);
  if (!stream) {
    const body = await res.text();
    log("http<", body);
    return JSON.parse(body).choices?.[0]?.message?.content ?? "";
  }
  let text = "";
  let buffer = "";
  for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      log("sse<", event);
      const data = event.replace(/^data: /, "");
      if (data === "[DONE]") continue;
      text += JSON.parse(data).choices?.[0]?.delta?.content ?? "";
    }
  }
  return text;
}

/** One chat that needs approval: wait for the request, list it, resolve it. */
async function approvalRound(
  gateway: RealGateway,
  op: Operator,
  options: { sessionKey: string; stream: boolean; decision: "allow-once" | "deny"; via: string },
): Promise<string> {
  const requested = op.waitEvent(
    (f) =>
      f.event === "exec.approval.requested" &&
      (f.payload?.request as { sessionKey?: string })?.sessionKey ===
        `agent:main:${options.sessionKey}`,
    90_000,
  );
  const reply = chat(
    gateway,
    options.sessionKey,
    `run it please [[exec:echo approved-run]]`,
    options.stream,
  );
  const event = await requested;
  const id = event.payload!.id as string;
  await op.request("exec.approval.list", {});
  await op.request("approval.get", { id });
  const resolved = op.waitEvent(
    (f) => f.event === "exec.approval.resolved" && f.payload?.id === id,
    30_000,
  );
  const res = options.via === "approval.resolve"
    ? await op.request("approval.resolve", { id, kind: "exec", decision: options.decision })
    : await op.request("exec.approval.resolve", { id, decision: options.decision });
  if (!res.ok) throw new Error(`resolve failed: ${JSON.stringify(res.error)}`);
  await resolved;
  const text = await reply;
  log("reply", text);
  return text;
}

if (import.meta.main) {
  const llm = FakeLlm.start();
  let gateway: RealGateway | undefined;
  let op: Operator | undefined;
  let failed = false;
  try {
    log("start", "starting the real gateway with execApprovals (10-60 s)...");
    gateway = await startRealGateway({ llmUrl: llm.url, execApprovals: true });
    secret = gateway.token;
    log("start", `gateway at ${gateway.url}, ws ${gateway.wsUrl}`);
    op = await Operator.connect(gateway.wsUrl, {
      minProtocol: 4,
      maxProtocol: 4,
      // `cli`/`cli` on direct loopback keeps its declared scopes without a
      // device identity; other ids lose them (see docs/notes/openclaw-approvals.md).
      client: { id: "cli", version: "0.1.0", platform: "linux", mode: "cli" },
      role: "operator",
      // operator.admin: an agent run's approval is visible only to admin clients.
      scopes: ["operator.admin", "operator.approvals", "operator.read"],
      // Without an approvals cap the gateway sees no approval client and denies at once.
      caps: ["approvals"],
      auth: { token: gateway.token },
    });
    const allowed = await approvalRound(gateway, op, {
      sessionKey: "probe-allow",
      stream: true,
      decision: "allow-once",
      via: "exec.approval.resolve",
    });
    const denied = await approvalRound(gateway, op, {
      sessionKey: "probe-deny",
      stream: false,
      decision: "deny",
      via: "approval.resolve",
    });
    await op.request("approval.history", { limit: 2 });
    const checks: [string, boolean][] = [
      ["allowed run printed the command output", allowed.startsWith("TOOL RAN approved-run")],
      ["denied run saw a denial", denied.startsWith("TOOL DENIED")],
      [
        "the model got the tool results",
        llm.requests.filter((r) => r.toolResult !== undefined).length === 2,
      ],
    ];
    for (const [what, ok] of checks) {
      log(ok ? "ok" : "FAIL", what);
      if (!ok) failed = true;
    }
  } catch (error) {
    failed = true;
    log("FAIL", String(error));
    if (gateway) console.error(gateway.output().slice(-3000));
  } finally {
    op?.close();
    await gateway?.stop();
    await llm.close();
  }
  Deno.exit(failed ? 1 : 0);
}
