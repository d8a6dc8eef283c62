/**
 * Helpers that play the browser and the OAuth client against the spawned
 * server: PKCE, the authorize redirect, the consent form, the token endpoint.
 * And an in-process authorization server with a controllable clock and a
 * chosen client address per request, for the limits that depend on time.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { s256 } from "../../src/auth/crypto.ts";
import { createOAuth, type OAuthLimits } from "../../src/auth/oauth.ts";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { INITIALIZE } from "../../testing/spawn.ts";

/** A fresh PKCE pair. */
export async function pkce(): Promise<{ verifier: string; challenge: string }> {
  const verifier = crypto.randomUUID() + crypto.randomUUID();
  return { verifier, challenge: await s256(verifier) };
}

/** Builds an /authorize URL. */
export function authorizeUrl(
  base: string,
  params: Record<string, string | undefined>,
): string {
  const url = new URL(`${base}/authorize`);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url.toString();
}

/** The result of following the flow as far as the redirect back to the client. */
export interface Redirect {
  /** Where the browser is sent. */
  location: URL;
  /** The code, if approved. */
  code: string | null;
  /** The error, if refused. */
  error: string | null;
}

function redirectOf(response: Response): Redirect {
  const location = response.headers.get("location");
  assert.ok(location, `expected a redirect, got ${response.status}`);
  const url = new URL(location);
  return {
    location: url,
    code: url.searchParams.get("code"),
    error: url.searchParams.get("error"),
  };
}

/** GETs an authorize URL without following redirects. */
export async function authorize(url: string): Promise<Response> {
  return await fetch(url, { redirect: "manual" });
}

/** Reads the consent form from an /authorize response: its form token and cookie. */
export async function consentForm(
  response: Response,
): Promise<{ consentId: string; cookie: string; html: string }> {
  assert.equal(response.status, 200, "consent page shown");
  const html = await response.text();
  const consentId = /name="consent_id" value="([^"]+)"/.exec(html)?.[1];
  const cookie = response.headers.get("set-cookie")?.split(";")[0];
  assert.ok(consentId && cookie, "consent page has a form token and a cookie");
  return { consentId, cookie, html };
}

/** Submits the consent form. */
export async function submitConsent(
  base: string,
  form: {
    consentId?: string;
    cookie?: string;
    password?: string;
    action?: string;
    /** Tick the "Owner access" box (`owner_access=yes`). */
    ownerAccess?: boolean;
  },
): Promise<Response> {
  const body = new URLSearchParams();
  if (form.consentId) body.set("consent_id", form.consentId);
  body.set("password", form.password ?? "");
  body.set("action", form.action ?? "approve");
  if (form.ownerAccess) body.set("owner_access", "yes");
  return await fetch(`${base}/authorize`, {
    method: "POST",
    redirect: "manual",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      ...(form.cookie ? { cookie: form.cookie } : {}),
    },
    body,
  });
}

/**
 * Follows authorize + consent with the password (ticking "Owner access" when
 * asked); returns the redirect back.
 */
export async function approve(
  base: string,
  url: string,
  password: string,
  options: { ownerAccess?: boolean } = {},
): Promise<Redirect> {
  const first = await authorize(url);
  if (first.status === 302) return redirectOf(first);
  const form = await consentForm(first);
  const approved = await submitConsent(base, { ...form, password, ...options });
  return redirectOf(approved);
}

/** A DCR client's login on a served app: its client and its tokens. */
export interface Login {
  /** The registered client. */
  client: { id: string; secret: string };
  /** Bearer token for /mcp. */
  accessToken: string;
  /** Spend at /token for a new pair, or revoke at /revoke. */
  refreshToken: string;
}

/**
 * Registers a DCR client (`client_secret_post`) on the served app at `base`
 * and signs it in through the consent page with `password`, ticking "Owner
 * access" when asked.
 */
export async function dcrLogin(
  base: string,
  password: string,
  options: { ownerAccess?: boolean } = {},
): Promise<Login> {
  const redirectUri = "http://127.0.0.1:9/callback";
  const registered = await register(base, {
    redirect_uris: [redirectUri],
    token_endpoint_auth_method: "client_secret_post",
  });
  assert.equal(registered.status, 201);
  const client = { id: registered.body.client_id, secret: registered.body.client_secret };
  const { verifier, challenge } = await pkce();
  const back = await approve(
    base,
    authorizeUrl(base, {
      response_type: "code",
      client_id: client.id,
      redirect_uri: redirectUri,
      code_challenge: challenge,
      code_challenge_method: "S256",
    }),
    password,
    options,
  );
  assert.ok(back.code, `approved: ${back.error}`);
  const tokens = await tokenRequest(base, {
    grant_type: "authorization_code",
    code: back.code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
    client_id: client.id,
    client_secret: client.secret,
  });
  assert.equal(tokens.status, 200);
  return {
    client,
    accessToken: tokens.body.access_token,
    refreshToken: tokens.body.refresh_token,
  };
}

/** The redirect an /authorize response carries. */
export function redirectFrom(response: Response): Redirect {
  return redirectOf(response);
}

/** POSTs to /token (or /revoke) with form fields and optional Basic auth. */
export async function tokenRequest(
  base: string,
  fields: Record<string, string>,
  basic?: { id: string; secret: string },
  path = "/token",
): Promise<{ status: number; body: Record<string, string> }> {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (basic) {
    headers.authorization = "Basic " +
      btoa(`${encodeURIComponent(basic.id)}:${encodeURIComponent(basic.secret)}`);
  }
  const response = await fetch(`${base}${path}`, {
    method: "POST",
    headers,
    body: new URLSearchParams(fields),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

/** Registers a client with DCR. */
export async function register(
  base: string,
  meta: Record<string, unknown>,
): Promise<{ status: number; body: Record<string, string> }> {
  const response = await fetch(`${base}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(meta),
  });
  return { status: response.status, body: await response.json() };
}

/** Lists tools on /mcp with a bearer token; returns the HTTP status and WWW-Authenticate. */
export async function mcpStatus(
  base: string,
  token?: string,
): Promise<{ status: number; challenge: string | null }> {
  const response = await fetch(`${base}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(INITIALIZE),
  });
  await response.body?.cancel();
  return { status: response.status, challenge: response.headers.get("www-authenticate") };
}

/** An authorization server on a Hono app in this process. */
export interface InProcessOAuth {
  /** The issuer (nothing listens there; requests go straight to the app). */
  base: string;
  /** The KV it stores into. */
  kv: Deno.Kv;
  /** The clock it reads. */
  now(): number;
  /** Moves the clock forward. */
  advance(ms: number): void;
  /** JSON log lines written so far. */
  logs: Record<string, unknown>[];
  /** A fetch that reaches the app as if from `address` (redirects are not followed). */
  fetchFrom(address: string): typeof fetch;
  /** Entries under a KV key prefix. */
  count(prefix: Deno.KvKey): Promise<number>;
  /** Closes the KV and removes it. */
  close(): Promise<void>;
}

/** Starts an in-process authorization server (owner password `password`). */
export async function inProcessOAuth(options: {
  password: string;
  env?: Record<string, string>;
  limits?: Partial<OAuthLimits>;
}): Promise<InProcessOAuth> {
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(`${dir}/oauth.kv`);
  let time = Date.parse("2030-01-01T00:00:00Z");
  const now = () => time;
  const logs: Record<string, unknown>[] = [];
  const command = loadConfig({
    args: ["--transport", "http"],
    env: {
      AUTH_ENABLED: "true",
      MCP_OWNER_PASSWORD: options.password,
      MCP_ALLOW_DCR: "true",
      ...options.env,
    },
  });
  assert.equal(command.kind, "run");
  const base = "http://127.0.0.1:9999";
  const app = new Hono();
  app.route(
    "/",
    createOAuth({
      config: command.config,
      kv,
      issuer: () => base,
      log: createLogger({ write: (line) => logs.push(JSON.parse(line)), now }),
      now,
      limits: options.limits,
    }).app,
  );
  return {
    base,
    kv,
    now,
    advance: (ms) => {
      time += ms;
    },
    logs,
    fetchFrom: (address) => async (input, init) => {
      const env = { remoteAddr: { transport: "tcp", hostname: address, port: 40_000 } };
      return await app.request(input instanceof Request ? input : String(input), init, env);
    },
    count: async (prefix) => {
      let n = 0;
      for await (const _ of kv.list({ prefix })) n++;
      return n;
    },
    close: async () => {
      kv.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A DCR client walked through consent in process: its id, secret, and an unredeemed code. */
export interface InProcessGrant {
  /** The client. */
  client: { id: string; secret?: string };
  /** The authorization code. */
  code: string;
  /** Its PKCE verifier. */
  verifier: string;
  /** The redirect URI it was issued for. */
  redirectUri: string;
}

/** Registers a DCR client from `address` and approves a sign-in with `password`. */
export async function inProcessGrant(
  server: InProcessOAuth,
  password: string,
  options: { address?: string; authMethod?: string } = {},
): Promise<InProcessGrant> {
  const send = server.fetchFrom(options.address ?? "192.0.2.1");
  const redirectUri = "http://127.0.0.1:9/callback";
  const registered = await send(`${server.base}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: options.authMethod ?? "client_secret_post",
    }),
  });
  assert.equal(registered.status, 201);
  const { client_id: id, client_secret: secret } = await registered.json();
  const { verifier, challenge } = await pkce();
  const page = await send(authorizeUrl(server.base, {
    response_type: "code",
    client_id: id,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }));
  const form = await consentForm(page);
  const approved = await send(`${server.base}/authorize`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: form.cookie },
    body: new URLSearchParams({ consent_id: form.consentId, password, action: "approve" }),
  });
  const back = redirectOf(approved);
  assert.ok(back.code, `approved: ${back.error}`);
  return { client: { id, secret }, code: back.code, verifier, redirectUri };
}

/**
 * An access token for a pre-registered client (`MCP_CLIENT_ID`/`MCP_CLIENT_SECRET`,
 * with `redirectUri` among `MCP_REDIRECT_URIS`): no consent page, straight to a code.
 */
export async function staticClientToken(
  base: string,
  client: { id: string; secret: string; redirectUri: string },
): Promise<string> {
  const { verifier, challenge } = await pkce();
  const back = redirectOf(
    await authorize(authorizeUrl(base, {
      response_type: "code",
      client_id: client.id,
      redirect_uri: client.redirectUri,
      code_challenge: challenge,
      code_challenge_method: "S256",
    })),
  );
  assert.ok(back.code, `authorized: ${back.error}`);
  const tokens = await tokenRequest(base, {
    grant_type: "authorization_code",
    code: back.code,
    redirect_uri: client.redirectUri,
    code_verifier: verifier,
    client_id: client.id,
    client_secret: client.secret,
  });
  assert.equal(tokens.status, 200);
  return tokens.body.access_token;
}
