/**
 * The running-slot counters: tasks running per instance (`["slots",
 * instance]`) and in all (`["slots_total"]`), shared by every runner on the
 * KV. A claim reads both, refuses at a limit, and commits its increments
 * checked against what it read; the commit that ends a run gives the slot
 * back.
 *
 * @module
 */
import { add, counter } from "./counters.ts";
import { SLOTS_TOTAL, slotsKey } from "./keys.ts";
import { retryBusy } from "./kv_retry.ts";

/** The slot counters a claim read: the instance's and the total, with versionstamps. */
export interface Slots {
  /** `["slots", instance]`. */
  instance: Deno.KvEntryMaybe<Deno.KvU64>;
  /** `["slots_total"]`. */
  total: Deno.KvEntryMaybe<Deno.KvU64>;
}

/** The limits a claim holds to (Infinity: none). */
export interface SlotLimits {
  /** Most tasks running on the instance. */
  limit: number;
  /** Most tasks running on all instances. */
  global: number;
}

/** Both slot counters, in one read. */
export async function readSlots(kv: Deno.Kv, instance: string): Promise<Slots> {
  const [own, total] = await retryBusy(() =>
    kv.getMany<[Deno.KvU64, Deno.KvU64]>([slotsKey(instance), SLOTS_TOTAL])
  );
  return { instance: own, total };
}

/** Tasks running on all instances, as one read. */
export async function readTotalSlots(kv: Deno.Kv): Promise<number> {
  return counter(await retryBusy(() => kv.get<Deno.KvU64>(SLOTS_TOTAL)));
}

/** "full" when the instance is at its limit, "global" at the global one, else null. */
export function slotsFull(slots: Slots, limits: SlotLimits): "full" | "global" | null {
  if (counter(slots.instance) >= limits.limit) return "full";
  if (counter(slots.total) >= limits.global) return "global";
  return null;
}

/**
 * Takes a slot of `instance` in `op`. The counters are checked only where a
 * limit reads them: an unlimited claim never waits for another's.
 */
export function takeSlot(
  op: Deno.AtomicOperation,
  options: SlotLimits & { instance: string; slots: Slots },
): void {
  if (Number.isFinite(options.limit)) op.check(options.slots.instance);
  if (Number.isFinite(options.global)) op.check(options.slots.total);
  op.sum(slotsKey(options.instance), 1n).sum(SLOTS_TOTAL, 1n);
}

/** Gives a slot of `instance` back in `op`. */
export function releaseSlot(op: Deno.AtomicOperation, instance: string): void {
  add(op, slotsKey(instance), -1);
  add(op, SLOTS_TOTAL, -1);
}
