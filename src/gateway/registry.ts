/**
 * The named gateway instances and their clients.
 *
 * @module
 */
import { BridgeError } from "../errors.ts";
import type { Instance } from "../config.ts";
import { GatewayClient, type GatewayClientOptions } from "./client.ts";

/** Looks up a gateway client by instance name, or the default one. */
export class GatewayRegistry {
  #clients = new Map<string, GatewayClient>();
  #default: GatewayClient;

  /** Creates one client per instance; exactly one instance must be the default. */
  constructor(instances: Instance[], options: GatewayClientOptions = {}) {
    for (const instance of instances) {
      this.#clients.set(instance.name, new GatewayClient(instance, options));
    }
    const fallback = instances.find((i) => i.isDefault) ?? instances[0];
    this.#default = this.#clients.get(fallback.name)!;
  }

  /**
   * The client for `name`, or the default one when `name` is omitted.
   *
   * @throws {BridgeError} `unknown_instance`, listing the known names.
   */
  get(name?: string): GatewayClient {
    if (name === undefined) return this.#default;
    const client = this.#clients.get(name);
    if (!client) {
      throw new BridgeError(
        "unknown_instance",
        `No gateway instance is named "${name}".`,
        `Use one of: ${[...this.#clients.keys()].join(", ")} (see openclaw_instances).`,
      );
    }
    return client;
  }

  /** Every client, in configuration order. */
  list(): GatewayClient[] {
    return [...this.#clients.values()];
  }

  /** Closes the instances' approval connections (shutdown). */
  close(): void {
    for (const client of this.#clients.values()) client.approvals?.close();
  }
}
