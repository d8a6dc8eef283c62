/**
 * Spawns the real server (`main.ts`) and connects the MCP SDK client to it.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/stdio"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

/** Absolute path of the entry point under test. */
export const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Flags every spawned server runs with. */
export const DENO_RUN = ["run", "-A", "--quiet", MAIN];

/** A connected client and its server process. */
export interface StdioSession {
  /** The SDK client. */
  client: Client;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** Closes the client (and so the server's stdin). */
  close(): Promise<void>;
  /** The server's pid. */
  pid: number | null;
}

/** Options for {@linkcode connectStdio}. */
export interface SpawnOptions {
  /** Extra command-line arguments. */
  args?: string[];
  /** Environment for the server (on top of a minimal default set). */
  env?: Record<string, string>;
}

/** Spawns `main.ts` over stdio and completes the MCP handshake. */
export async function connectStdio(options: SpawnOptions = {}): Promise<StdioSession> {
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: [...DENO_RUN, ...(options.args ?? [])],
    env: { ...baseEnv(), ...(options.env ?? {}) },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Uint8Array) => {
    stderr += new TextDecoder().decode(chunk);
  });
  const client = new Client({ name: "openclaw-mcp-tests", version: "0.0.0" });
  await client.connect(transport);
  return {
    client,
    stderr: () => stderr,
    close: () => client.close(),
    pid: transport.pid,
  };
}

/** Env that points the server at one gateway. */
export function gatewayEnv(url: string, token = "test-token"): Record<string, string> {
  return { OPENCLAW_URL: url, OPENCLAW_GATEWAY_TOKEN: token };
}

/** Runs `main.ts` to completion with the given args, env and stdin. */
export async function runMain(
  args: string[],
  options: {
    env?: Record<string, string>;
    stdin?: string;
    cwd?: string;
    /** Awaited after writing stdin and before closing it. */
    beforeEof?: () => Promise<void>;
  } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...DENO_RUN, ...args],
    env: { ...baseEnv(), ...(options.env ?? {}) },
    clearEnv: true,
    cwd: options.cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  if (options.stdin) await writer.write(new TextEncoder().encode(options.stdin));
  const output = child.output();
  await options.beforeEof?.();
  await writer.close();
  const out = await output;
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** The minimal environment a spawned server needs (Deno's cache, PATH), nothing of ours. */
export function baseEnv(): Record<string, string> {
  // Tests never touch the user's real task store unless they name a path.
  const env: Record<string, string> = {
    DENO_NO_UPDATE_CHECK: "1",
    NO_COLOR: "1",
    OPENCLAW_KV_PATH: ":memory:",
  };
  // Deno's cache and the machine's TLS/proxy settings (a child that must fetch
  // anything needs the same certificate authorities as we do).
  for (
    const name of [
      "HOME",
      "PATH",
      "DENO_DIR",
      "XDG_CACHE_HOME",
      "TMPDIR",
      "DENO_CERT",
      "DENO_TLS_CA_STORE",
      "SSL_CERT_FILE",
      "SSL_CERT_DIR",
      "NODE_EXTRA_CA_CERTS",
      "HTTPS_PROXY",
      "HTTP_PROXY",
      "NO_PROXY",
      "https_proxy",
      "http_proxy",
      "no_proxy",
    ]
  ) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** A spawned HTTP server. */
export interface HttpServerProcess {
  /** Base URL, e.g. http://127.0.0.1:41234. */
  url: string;
  /** The process. */
  child: Deno.ChildProcess;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** The exit status once the process has exited by itself or been stopped; undefined while it runs. */
  exited(): Deno.CommandStatus | undefined;
  /** Sends SIGTERM (if still running) and waits for the exit status. */
  stop(): Promise<Deno.CommandStatus>;
}

/**
 * Starts `main.ts --transport http` on a free loopback port and waits until it
 * listens. With `fileLimit`, it runs under `ulimit -n fileLimit` in a shell.
 * `run` replaces {@linkcode DENO_RUN} (`deno` flags and entry point), e.g.
 * for the bench's `bench/gc_main.ts`.
 */
export async function startHttp(
  options: {
    args?: string[];
    env?: Record<string, string>;
    fileLimit?: number;
    run?: string[];
  } = {},
): Promise<HttpServerProcess> {
  const args = [
    ...(options.run ?? DENO_RUN),
    "--transport",
    "http",
    "--port",
    "0",
    ...(options.args ?? []),
  ];
  const limited = options.fileLimit !== undefined;
  const child = new Deno.Command(limited ? "sh" : Deno.execPath(), {
    args: limited
      ? ["-c", `ulimit -n ${options.fileLimit} && exec "$0" "$@"`, Deno.execPath(), ...args]
      : args,
    env: { ...baseEnv(), ...(options.env ?? {}) },
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  let exited: Deno.CommandStatus | undefined;
  child.status.then((status) => exited = status);
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const url = await new Promise<string>((resolve, reject) => {
    (async () => {
      while (true) {
        const { value, done } = await reader.read();
        if (done) return reject(new Error(`server exited before listening:\n${stderr}`));
        stderr += value;
        const match = /"event":"listening","url":"([^"]+)"/.exec(stderr);
        if (match) {
          resolve(match[1]);
          break;
        }
      }
      // Keep draining so the child never blocks on a full pipe.
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        stderr += value;
      }
    })().catch(reject);
  });
  return {
    url,
    child,
    stderr: () => stderr,
    exited: () => exited,
    async stop() {
      try {
        if (!exited) child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      return await child.status;
    },
  };
}

/** A JSON-RPC initialize request, for tests that speak the protocol by hand. */
export const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-11-25",
    capabilities: {},
    clientInfo: { name: "raw-test", version: "1" },
  },
};
