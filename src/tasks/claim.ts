/**
 * The claim order: which pending task a runner takes next. Instances with
 * queued work are served round-robin, starting after the one served last,
 * skipping those the runner cannot run and those at their slot limit (one
 * counter read each); on an instance, its principals take turns the same
 * way; within a principal, higher priority first, then older first. So a
 * claim costs O(instances), never a walk past tasks it cannot run.
 *
 * @module
 */
import { QUEUE_INSTANCES, queueKey, queueOwnerKey, queueOwnersPrefix } from "./keys.ts";
import { anyQueued, dropUnchanged, queueHead, sameKey, turns } from "./queue.ts";
import { expireTask } from "./expiry.ts";
import { readSlots, readTotalSlots, type Slots, slotsFull, takeSlot } from "./slots.ts";
import type { Claim, TaskRecord } from "./task.ts";
import { commitTransition, readTask, type StoreContext } from "./transition.ts";

/** What {@linkcode Claimer.claim} may take. */
export interface ClaimOptions {
  /** Instances this process will run (checked before any read). Default all. */
  canRun?: (instance: string) => boolean;
  /**
   * Most tasks running at once per instance (name → limit), counted across
   * every runner on this KV. Instances not named are unlimited.
   */
  instanceConcurrency?: Record<string, number>;
  /** Most tasks running at once on all instances, across every runner on this KV. Default unlimited. */
  globalConcurrency?: number;
}

/** Queue entries looked at per principal and instance in one claim. */
const SCAN_PER_OWNER = 64;
/** Retries of a claim that lost a slot counter race before moving on. */
const SLOT_ATTEMPTS = 20;

/** A claim's settings, resolved. */
interface ClaimWith {
  runner: string;
  leaseMs: number;
  limit: number;
  global: number;
}

/** One principal's turn on one instance: its mark, and the instance's slots as last read. */
interface Turn {
  instance: string;
  owner: string;
  /** Versionstamp of the principal's mark. */
  versionstamp: string;
  /** Refreshed when a commit loses a race for a counter. */
  slots: Slots;
}

/** What became of one queue entry: taken, a limit, gone from the queue, or still there. */
type Outcome = Claim | "full" | "global" | "gone" | "kept";

/**
 * Claims tasks in turn. Holds the round-robin position (which instance, and
 * which principal on each, was served last) for one store.
 */
export class Claimer {
  #ctx: StoreContext;
  /** The instance served by the last claim: the round-robin goes on after it. */
  #lastInstance: string | undefined;
  /** Per instance, the principal served last there. */
  #lastOwner = new Map<string, string>();

  /** Claims on the store described by `ctx`. */
  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /**
   * Claims a pending task and marks it running under a lease, taking a slot
   * of its instance; null when nothing can run, or when `globalConcurrency`
   * tasks already run. Tasks past their pending deadline met on the way
   * fail as expired.
   */
  async claim(runner: string, leaseMs: number, options: ClaimOptions = {}): Promise<Claim | null> {
    const canRun = options.canRun ?? (() => true);
    const limits = options.instanceConcurrency ?? {};
    const global = options.globalConcurrency ?? Infinity;
    if (Number.isFinite(global) && await readTotalSlots(this.#ctx.kv) >= global) return null;
    const marks = turns(this.#ctx.kv, { prefix: QUEUE_INSTANCES, last: this.#lastInstance });
    for await (const entry of marks) {
      const instance = entry.key[1] as string;
      if (!canRun(instance)) continue;
      const limit = limits[instance] ?? Infinity;
      const claim = await this.#claimOn(entry, { runner, leaseMs, limit, global });
      if (claim === "global") return null;
      if (claim !== null && claim !== "full") {
        this.#lastInstance = instance;
        return claim;
      }
    }
    return null;
  }

  /**
   * Claims on one instance (its mark is `mark`): its principals in turn.
   * "full" when the instance is at its limit, "global" at the global one;
   * drops the instance's mark when no principal has work left there.
   */
  async #claimOn(
    mark: Deno.KvEntry<number>,
    o: ClaimWith,
  ): Promise<Claim | "full" | "global" | null> {
    const { kv } = this.#ctx;
    const instance = mark.key[1] as string;
    const slots = await readSlots(kv, instance);
    if (slotsFull(slots, { limit: o.limit, global: Infinity })) return "full";
    let owners = 0, empty = 0;
    const queued = turns(kv, {
      prefix: queueOwnersPrefix(instance),
      last: this.#lastOwner.get(instance),
    });
    for await (const entry of queued) {
      owners++;
      const owner = entry.key[2] as string;
      const turn = { instance, owner, versionstamp: entry.versionstamp, slots };
      const claim = await this.#claimFrom(turn, o);
      if (claim === "empty") empty++;
      else if (claim !== null) {
        if (typeof claim === "string") return claim;
        this.#lastOwner.set(instance, owner);
        // The principal's last task here: drop the instance's mark too if no one else queued.
        if (claim.drained && !(await anyQueued(kv, instance))) await dropUnchanged(kv, mark);
        return claim.claim;
      }
    }
    if (owners === empty) {
      this.#lastOwner.delete(instance);
      await dropUnchanged(kv, mark);
    }
    return null;
  }

  /**
   * Claims the principal's first runnable task on the instance, taking a
   * slot; "empty" after dropping the principal's mark when nothing is left.
   */
  async #claimFrom(
    turn: Turn,
    o: ClaimWith,
  ): Promise<{ claim: Claim; drained: boolean } | "full" | "global" | "empty" | null> {
    const { kv } = this.#ctx;
    const entries = await queueHead(kv, { ...turn, limit: SCAN_PER_OWNER });
    const mark = { key: queueOwnerKey(turn.instance, turn.owner), versionstamp: turn.versionstamp };
    let left = entries.length;
    for (const entry of entries) {
      const outcome = await this.#tryEntry(entry, turn, o);
      if (outcome === "gone") left--;
      else if (outcome === "full" || outcome === "global") return outcome;
      else if (outcome !== "kept") {
        // The last task queued: drop the mark now rather than at the next claim.
        const drained = left === 1 && entries.length < SCAN_PER_OWNER &&
          await dropUnchanged(kv, mark);
        return { claim: outcome, drained };
      }
    }
    if (left > 0 || entries.length === SCAN_PER_OWNER) return null;
    return await dropUnchanged(kv, mark) ? "empty" : null;
  }

  /** Takes the task of one queue entry, expires it, or drops the entry when it is stale. */
  async #tryEntry(entry: Deno.KvEntry<string>, turn: Turn, o: ClaimWith): Promise<Outcome> {
    const found = await readTask(this.#ctx, entry.value).catch(() => null);
    if (!found || found.task.status !== "pending" || !sameKey(queueKey(found.task), entry.key)) {
      // Left behind by a writer of an older layout: drop it.
      await dropUnchanged(this.#ctx.kv, entry);
      return "gone";
    }
    if (found.task.pendingUntil != null && found.task.pendingUntil <= this.#ctx.now()) {
      return await expireTask(this.#ctx, found) ? "gone" : "kept";
    }
    return await this.#take(found, { turn, o });
  }

  /** Commits `found` as running with a slot, retrying while only a slot counter race is lost. */
  async #take(found: Claim, at: { turn: Turn; o: ClaimWith }): Promise<Outcome> {
    const { turn, o } = at;
    for (let attempt = 0; attempt < SLOT_ATTEMPTS; attempt++) {
      const full = slotsFull(turn.slots, o);
      if (full) return full;
      const now = this.#ctx.now();
      const next: TaskRecord = {
        ...found.task,
        status: "running",
        attempt: found.task.attempt + 1,
        startedAt: now,
        updatedAt: now,
        runner: o.runner,
        leaseUntil: now + o.leaseMs,
        holdsSlot: true,
      };
      const versionstamp = await commitTransition(this.#ctx, {
        prev: found.task,
        versionstamp: found.versionstamp,
        next,
        extra: (op) => takeSlot(op, { ...o, instance: turn.instance, slots: turn.slots }),
      });
      if (versionstamp) return { task: next, versionstamp };
      // Lost a race: for the task (claimed, cancelled elsewhere) or for a slot.
      const latest = await readTask(this.#ctx, found.task.id);
      if (latest?.versionstamp !== found.versionstamp) {
        return latest?.task.status !== "pending" ? "gone" : "kept";
      }
      Object.assign(turn.slots, await readSlots(this.#ctx.kv, turn.instance));
    }
    return "kept";
  }
}
