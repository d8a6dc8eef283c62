/**
 * The per-principal quota on pending tasks: how many, and how many UTF-8
 * message bytes. The counters live in KV (`["count", owner, "pending"]`,
 * `["pending_bytes", owner]`), so the quota holds across processes.
 *
 * @module
 */
import { utf8Bytes } from "../utf8.ts";
import { BridgeError } from "../errors.ts";
import { counter } from "./counters.ts";
import { countKey, pendingBytesKey } from "./keys.ts";
import { retryBusy } from "./kv_retry.ts";

/** The limits of one principal's pending tasks. */
export interface QuotaLimits {
  /** Most pending tasks (Infinity: none). */
  maxPending: number;
  /** Most UTF-8 message bytes in pending tasks (Infinity: none). */
  maxPendingBytes: number;
}

/** The owner's quota counters as read, with the versionstamps a commit checks. */
export interface PendingUsage {
  /** `["count", owner, "pending"]`. */
  count: Deno.KvEntryMaybe<Deno.KvU64>;
  /** `["pending_bytes", owner]`. */
  bytes: Deno.KvEntryMaybe<Deno.KvU64>;
}

export { utf8Bytes };

/** Both of the owner's quota counters, in one read. */
export async function readPendingUsage(kv: Deno.Kv, owner: string): Promise<PendingUsage> {
  const [count, bytes] = await retryBusy(() =>
    kv.getMany<[Deno.KvU64, Deno.KvU64]>([countKey(owner, "pending"), pendingBytesKey(owner)])
  );
  return { count, bytes };
}

/**
 * Refuses one more pending task of `messageBytes` on top of `usage`.
 *
 * @throws {BridgeError} `quota_exceeded` past `maxPending` or `maxPendingBytes`.
 */
export function checkQuota(
  usage: PendingUsage,
  options: QuotaLimits & { messageBytes: number },
): void {
  const pending = counter(usage.count);
  const pendingBytes = counter(usage.bytes);
  const { maxPending, maxPendingBytes, messageBytes } = options;
  if (pending + 1 > maxPending) {
    throw new BridgeError(
      "quota_exceeded",
      `You already have ${pending} tasks waiting to run; the limit is ${maxPending} pending tasks per caller (OPENCLAW_TASK_MAX_PENDING).`,
      "Wait for some to start or finish, or cancel some with openclaw_task_cancel (openclaw_task_list with status pending shows them); the operator can raise OPENCLAW_TASK_MAX_PENDING.",
    );
  }
  if (pendingBytes + messageBytes > maxPendingBytes) {
    throw new BridgeError(
      "quota_exceeded",
      `This message (${messageBytes} bytes) and your ${pending} waiting tasks (${pendingBytes} bytes) would exceed the limit of ${maxPendingBytes} bytes of pending messages per caller (OPENCLAW_TASK_MAX_PENDING_BYTES).`,
      "Wait for some tasks to start or finish, cancel some, or send a shorter message; the operator can raise OPENCLAW_TASK_MAX_PENDING_BYTES.",
    );
  }
}
