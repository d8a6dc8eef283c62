/**
 * Behind a reverse proxy: a loopback proxy that appends the peer it saw to
 * `X-Forwarded-For`, as nginx's `$proxy_add_x_forwarded_for` does, in front
 * of the spawned server. A client that writes its own `X-Forwarded-For` on
 * every request must not get a fresh per-address budget (here: the dynamic
 * registration limit), and without TRUST_PROXY the header counts for nothing.
 */
import assert from "node:assert/strict";
import { type HttpServerProcess, startHttp } from "../../testing/spawn.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const PASSWORD = "correct horse battery staple";
/** More than the per-address registration limit (20 a minute today). */
const ATTEMPTS = 40;
const MAX_PER_ADDRESS = 20;

/** A reverse proxy listening on 127.0.0.1 and ::1, forwarding to `upstream`. */
interface Proxy {
  /** The proxy as reached over IPv4 (it appends 127.0.0.1). */
  v4: string;
  /** The proxy as reached over IPv6 (it appends ::1): another real client. */
  v6: string;
  close(): Promise<void>;
}

function startProxy(upstream: string): Proxy {
  const handler = async (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => {
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    headers.delete("host");
    // nginx: $proxy_add_x_forwarded_for = the client's header, then ", $remote_addr".
    const sent = request.headers.get("x-forwarded-for");
    const peer = info.remoteAddr.hostname;
    headers.set("x-forwarded-for", sent ? `${sent}, ${peer}` : peer);
    const response = await fetch(`${upstream}${url.pathname}${url.search}`, {
      method: request.method,
      headers,
      body: request.body ? await request.arrayBuffer() : undefined,
      redirect: "manual",
    });
    return new Response(response.body, { status: response.status, headers: response.headers });
  };
  const quiet = { port: 0, onListen: () => {} };
  const v4 = Deno.serve({ ...quiet, hostname: "127.0.0.1" }, handler);
  const v6 = Deno.serve({ ...quiet, hostname: "::1" }, handler);
  return {
    v4: `http://127.0.0.1:${v4.addr.port}`,
    v6: `http://[::1]:${v6.addr.port}`,
    close: async () => {
      await Promise.all([v4.shutdown(), v6.shutdown()]);
    },
  };
}

async function withProxiedServer(
  env: Record<string, string>,
  fn: (server: HttpServerProcess, proxy: Proxy) => Promise<void>,
) {
  const server = await startHttp({
    env: {
      AUTH_ENABLED: "true",
      MCP_ALLOW_DCR: "true",
      MCP_OWNER_PASSWORD: PASSWORD,
      ...env,
    },
  });
  const proxy = startProxy(server.url);
  try {
    await fn(server, proxy);
  } finally {
    await proxy.close();
    await server.stop();
  }
}

/** POSTs a dynamic registration; returns the status. */
async function register(base: string, forwardedFor?: string): Promise<number> {
  const response = await fetch(`${base}/register`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(forwardedFor ? { "x-forwarded-for": forwardedFor } : {}),
    },
    body: JSON.stringify({
      client_name: "proxy test",
      redirect_uris: ["http://127.0.0.1:9/callback"],
      token_endpoint_auth_method: "none",
    }),
  });
  await response.body?.cancel();
  return response.status;
}

/** ATTEMPTS registrations, each claiming a different address; counts by status. */
async function spoofedRegistrations(base: string): Promise<{ created: number; limited: number }> {
  let created = 0;
  let limited = 0;
  for (let i = 0; i < ATTEMPTS; i++) {
    const status = await register(base, `198.51.100.${i + 1}`);
    if (status === 201) created++;
    else if (status === 429) limited++;
    else assert.fail(`unexpected status ${status}`);
  }
  return { created, limited };
}

Deno.test(
  `proxy: TRUST_PROXY=1 behind an appending proxy, ${ATTEMPTS} spoofed X-Forwarded-For share one budget`,
  opts,
  async () => {
    await withProxiedServer({ TRUST_PROXY: "1" }, async (_server, proxy) => {
      const { created, limited } = await spoofedRegistrations(proxy.v4);
      assert.ok(created >= 1, "registrations through the proxy work");
      assert.ok(
        created <= MAX_PER_ADDRESS,
        `${created} of ${ATTEMPTS} spoofed registrations accepted: the spoofed entry was trusted`,
      );
      assert.ok(limited >= 1, "the attacker's address ran out of budget");
      // The server keys on what the proxy saw, not on the proxy itself: a client
      // reaching the proxy from another address still has its own budget.
      assert.equal(await register(proxy.v6), 201, "another real client is not limited");
    });
  },
);

Deno.test("proxy: without TRUST_PROXY, X-Forwarded-For is ignored", opts, async () => {
  await withProxiedServer({}, async (server, proxy) => {
    // Straight to the server, a fresh spoofed address on each request.
    const { created, limited } = await spoofedRegistrations(server.url);
    assert.ok(created >= 1 && created <= MAX_PER_ADDRESS, `${created} accepted`);
    assert.ok(limited >= 1);
    // Even the proxy's own entry (::1) counts for nothing: same peer, same spent budget.
    assert.equal(await register(proxy.v6), 429);
    assert.equal(await register(proxy.v4, "203.0.113.77"), 429);
  });
});
