/**
 * OAuth Client ID Metadata Documents: a `client_id` that is an https URL
 * names a JSON document describing the client. Fetched only from allowed
 * hosts, with a timeout and a size cap, cached briefly.
 *
 * @module
 */
import { z } from "zod";
import { isSafeRedirect } from "./redirect_policy.ts";
import { displayText } from "./pages.ts";
import { MAX_URI_LENGTH, type OAuthClient } from "./store.ts";
import { readCapped } from "../read_capped.ts";

/** Options for {@linkcode CimdResolver}. */
export interface CimdOptions {
  /** Host names a client id URL may point at (`MCP_CIMD_HOSTS`); any other is refused unfetched. */
  hosts: string[];
  /** Fetches the documents; default the global `fetch` (tests pass a loopback one). */
  fetch?: typeof fetch;
  /** Milliseconds a document fetch may take; default 5 s. */
  timeoutMs?: number;
  /** Bytes read from a document before it is refused; default 64 KiB. */
  maxBytes?: number;
  /** Milliseconds a resolved document is reused before it is fetched again; default 5 min. */
  cacheMs?: number;
  /** Most documents cached; the oldest is dropped first. */
  cacheSize?: number;
  /** Epoch ms clock the cache expiry is measured on; default `Date.now`. */
  now?: () => number;
}

const documentSchema = z.object({
  client_id: z.string(),
  client_name: z.string().max(200).optional(),
  // The chosen redirect URI is stored with each consent and code: bound it like DCR's.
  redirect_uris: z.array(z.string().max(MAX_URI_LENGTH)).min(1).max(10),
  token_endpoint_auth_method: z.string().optional(),
}).passthrough();

/** True when `id` has the form of a metadata-document client id. */
export function looksLikeCimd(id: string): boolean {
  return /^https?:\/\//.test(id);
}

/** Resolves metadata-document client ids to clients. */
export class CimdResolver {
  #o: Required<Omit<CimdOptions, "fetch">> & { fetch: typeof fetch };
  #cache = new Map<string, { client: OAuthClient; until: number }>();

  /** Creates a resolver with an empty cache; unset options take the defaults above. */
  constructor(options: CimdOptions) {
    this.#o = {
      fetch: options.fetch ?? fetch,
      timeoutMs: options.timeoutMs ?? 5_000,
      maxBytes: options.maxBytes ?? 64 * 1024,
      cacheMs: options.cacheMs ?? 5 * 60_000,
      cacheSize: options.cacheSize ?? 100,
      now: options.now ?? Date.now,
      hosts: options.hosts,
    };
  }

  /** Whether the id's host may be fetched at all. */
  allowed(id: string): boolean {
    try {
      const url = new URL(id);
      const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
      // https only; plain http is accepted for loopback hosts (local development).
      if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) return false;
      return url.pathname !== "/" && this.#o.hosts.includes(url.hostname.toLowerCase());
    } catch {
      return false;
    }
  }

  /** The client the document describes, or an error to show. */
  async resolve(id: string): Promise<OAuthClient | { error: string }> {
    if (!this.allowed(id)) {
      return {
        error: `client metadata host is not allowed (MCP_CIMD_HOSTS: ${this.#o.hosts.join(", ")})`,
      };
    }
    const cached = this.#cache.get(id);
    if (cached && cached.until > this.#o.now()) return cached.client;
    const text = await this.#fetchDocument(id);
    if (typeof text !== "string") return text;
    const parsed = parseDocument(text);
    if ("error" in parsed) return parsed;
    const client = clientOfDocument(id, parsed.doc);
    if ("error" in client) return client;
    this.#remember(id, client);
    return client;
  }

  /** The document's text, read up to the size cap; or why it could not be. */
  async #fetchDocument(id: string): Promise<string | Refusal> {
    try {
      const response = await this.#o.fetch(id, {
        redirect: "error",
        signal: AbortSignal.timeout(this.#o.timeoutMs),
        headers: { accept: "application/json" },
      });
      if (!response.ok) {
        await response.body?.cancel();
        return { error: `client metadata document answered HTTP ${response.status}` };
      }
      return await readCapped(response, this.#o.maxBytes);
    } catch {
      return { error: "client metadata document could not be fetched" };
    }
  }

  /** Caches a resolved client, dropping the oldest entry when the cache is full. */
  #remember(id: string, client: OAuthClient): void {
    // Ids are URLs an attacker may vary freely on an allowed host: keep the cache bounded.
    this.#cache.delete(id);
    if (this.#cache.size >= this.#o.cacheSize) {
      this.#cache.delete(this.#cache.keys().next().value!);
    }
    this.#cache.set(id, { client, until: this.#o.now() + this.#o.cacheMs });
  }
}

/** Why a client id does not resolve, as a sentence for people. */
type Refusal = { error: string };

/** A document's fields, as {@linkcode documentSchema} keeps them. */
type MetadataDocument = z.infer<typeof documentSchema>;

/**
 * The document's fields, or why it is refused. Wrapped, as a document may
 * well have a field named `error`.
 */
function parseDocument(text: string): { doc: MetadataDocument } | Refusal {
  let parsed;
  try {
    parsed = documentSchema.safeParse(JSON.parse(text));
  } catch {
    return { error: "client metadata document is not JSON" };
  }
  if (!parsed.success) {
    return {
      error:
        `client metadata document lacks client_id or redirect_uris, or exceeds their limits (200-character name, 1-10 redirect URIs of at most ${MAX_URI_LENGTH} characters)`,
    };
  }
  return { doc: parsed.data };
}

/** The public client a document at `id` describes, unless the document refuses it. */
function clientOfDocument(
  id: string,
  doc: MetadataDocument,
): OAuthClient | Refusal {
  if (doc.client_id !== id) return { error: "client metadata document names another client_id" };
  if (!doc.redirect_uris.every(isSafeRedirect)) {
    return {
      error: "client metadata document lists a redirect URI that is not https or loopback",
    };
  }
  if (doc.token_endpoint_auth_method && doc.token_endpoint_auth_method !== "none") {
    return {
      error:
        "only public metadata-document clients (token_endpoint_auth_method none) are supported",
    };
  }
  return {
    clientId: id,
    secretHash: null,
    redirectUris: doc.redirect_uris,
    name: (doc.client_name && displayText(doc.client_name).trim()) || new URL(id).host,
    authMethod: "none",
    kind: "cimd",
  };
}
