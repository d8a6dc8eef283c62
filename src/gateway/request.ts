/**
 * One request to a gateway, start to finish: the instance's timeout joined
 * with the caller's signal, the fetch (redirects not followed), reading a
 * capped JSON body, and turning a failure on the way into the right
 * {@linkcode BridgeError}. The chat, health and agents calls share it.
 *
 * @module
 */
import { BridgeError } from "../errors.ts";
import type { Instance } from "../config.ts";
import { BodyTooLarge, readCapped } from "../read_capped.ts";
import { abortedError, badReplyError, disconnectedError, unreachableError } from "./errors.ts";

/** Replies larger than this are refused (bytes of body). */
export const MAX_REPLY_BYTES = 10 * 1024 * 1024;

/** The instance a call goes to, and the effects it uses. */
export interface GatewayTarget {
  /** The instance: URL, token, timeout. */
  instance: Instance;
  /** The client's `fetch` (the global one unless a test or embedder passed another). */
  fetch: typeof fetch;
  /** Replies larger than this many bytes are refused. */
  maxReplyBytes: number;
  /** Told how each request ended (metrics); must not throw. */
  onRequest?: (record: GatewayRequestRecord) => void;
}

/** How one request to a gateway ended, as {@linkcode GatewayTarget.onRequest} hears it. */
export interface GatewayRequestRecord {
  /** The instance's name. */
  instance: string;
  /** The path asked for, e.g. `/v1/chat/completions` (one of the client's own, never a caller's). */
  path: string;
  /** The HTTP status of the response, or why there was none. */
  status: number | "unreachable" | "timeout" | "cancelled";
}

/** `accept: application/json`, the instance's bearer token if it has one, and `extra`. */
export function gatewayHeaders(
  instance: Pick<Instance, "token">,
  extra: Record<string, string> = {},
): Record<string, string> {
  const headers: Record<string, string> = { accept: "application/json", ...extra };
  if (instance.token) headers.authorization = `Bearer ${instance.token}`;
  return headers;
}

/**
 * One call's scope: its signal aborts on the caller's signal or after the
 * instance's `timeoutMs`, whichever comes first. Dispose of it (`using`)
 * to clear the timer.
 *
 * @example
 * ```ts ignore
 * using call = new GatewayCall(target, signal);
 * const response = await call.send("/v1/models", { headers: gatewayHeaders(target.instance) });
 * const json = await call.readJson(response);
 * ```
 */
export class GatewayCall implements Disposable {
  /** Aborts on the caller's signal or on the timeout. */
  readonly signal: AbortSignal;
  /** The instance and effects this call uses. */
  readonly target: GatewayTarget;
  #caller: AbortSignal | undefined;
  #timeout = new AbortController();
  #timer: ReturnType<typeof setTimeout>;

  /** Starts the timeout; `caller` is the request's own signal (MCP cancellation, shutdown). */
  constructor(target: GatewayTarget, caller?: AbortSignal) {
    this.target = target;
    this.#caller = caller;
    this.#timer = setTimeout(() => this.#timeout.abort(), target.instance.timeoutMs);
    this.signal = caller ? AbortSignal.any([caller, this.#timeout.signal]) : this.#timeout.signal;
  }

  /** Whether the signal aborted because of the timeout rather than the caller. */
  timedOut(): boolean {
    return this.#timeout.signal.aborted && !this.#caller?.aborted;
  }

  /**
   * Fetches `path` on the instance with this call's signal, not following
   * redirects.
   *
   * @throws {BridgeError} `gateway_unreachable`, `gateway_timeout` or `cancelled`.
   */
  async send(path: string, init: RequestInit = {}): Promise<Response> {
    const { instance } = this.target;
    try {
      const response = await this.target.fetch(instance.url + path, {
        ...init,
        signal: this.signal,
        redirect: "manual",
      });
      this.#report(path, response.status);
      return response;
    } catch (error) {
      if (this.signal.aborted) {
        const timedOut = this.timedOut();
        this.#report(path, timedOut ? "timeout" : "cancelled");
        throw abortedError(instance, timedOut);
      }
      this.#report(path, "unreachable");
      throw unreachableError(instance, error instanceof Error ? error.message : "");
    }
  }

  #report(path: string, status: GatewayRequestRecord["status"]): void {
    try {
      this.target.onRequest?.({ instance: this.target.instance.name, path, status });
    } catch {
      // Observing a request never fails it.
    }
  }

  /**
   * Reads the body as JSON, up to the size cap.
   *
   * @throws {BridgeError} see {@linkcode GatewayCall.readError}; `gateway_bad_reply` for a body that is not JSON.
   */
  async readJson(response: Response): Promise<unknown> {
    let text: string;
    try {
      text = await readCapped(response, this.target.maxReplyBytes);
    } catch (error) {
      throw this.readError(error);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw badReplyError(this.target.instance, "the body is not JSON");
    }
  }

  /**
   * What a failure while reading a body means: over the cap
   * (`gateway_bad_reply`), our timeout or the caller's cancellation, or
   * else the gateway hanging up (`gateway_disconnected`).
   */
  readError(error: unknown): BridgeError {
    const { instance, maxReplyBytes } = this.target;
    if (error instanceof BridgeError) return error;
    if (error instanceof BodyTooLarge) {
      return badReplyError(
        instance,
        `the reply is larger than ${Math.round(maxReplyBytes / 1048576)} MB`,
      );
    }
    if (this.signal.aborted) return abortedError(instance, this.timedOut());
    return disconnectedError(instance, "closed");
  }

  /** Clears the timeout, so that a finished call holds no timer (`using` calls this). */
  [Symbol.dispose](): void {
    clearTimeout(this.#timer);
  }
}
