/**
 * The task runner: claims pending tasks (instances in turn, principals in
 * turn on each; priority, then age, within a principal) up to its own
 * concurrency and the shared per-instance and global limits (slots counted
 * in KV by the store, so they hold across every runner on the KV), runs
 * them against the gateway,
 * streams the partial reply into the store, renews its leases and notices
 * cancellation made by any process on the same KV.
 *
 * No hot loop when idle: a submit in this process wakes it at once; other
 * processes' submissions, expired leases and pending tasks past their
 * deadline are found by a slow poll.
 *
 * @module
 */
import { type Approval, ChatApprovals, type GatewayApprovals } from "../gateway/approvals.ts";
import { MAX_WAITING } from "./store.ts";
import { BridgeError, toBridgeError } from "../errors.ts";
import type { GatewayRegistry } from "../gateway/registry.ts";
import { SessionKeys } from "../gateway/session_key.ts";
import type { Logger } from "../log.ts";
import { throttle } from "../throttle.ts";
import type { Claim, TaskStore } from "./store.ts";

/** Partial replies are saved at most this often. */
export const PARTIAL_INTERVAL_MS = 500;

/** Runner settings. */
export interface RunnerOptions {
  /** Where tasks are claimed from and settled; shared with every other runner on the KV. */
  store: TaskStore;
  /** Gateway clients. */
  gateways: GatewayRegistry;
  /** Logger. */
  log: Logger;
  /** Most tasks running at once in this runner (per process). Default 4. */
  concurrency?: number;
  /** Per-instance limits (instance name → max), shared by every runner on the KV. */
  instanceConcurrency?: Record<string, number>;
  /** Most tasks running at once on all instances, shared by every runner on the KV. Default unlimited. */
  globalConcurrency?: number;
  /** Lease length. Default 30 s; renewed every third of it. */
  leaseMs?: number;
  /** How often running tasks are checked for cancellation. Default 250 ms. */
  watchMs?: number;
  /** How often an idle runner looks for work and expired leases. Default 1 s. */
  idlePollMs?: number;
  /** Unique id of this runner. */
  id?: string;
  /**
   * Clock, epoch ms, for leases, sweeps and task durations. Default
   * `Date.now`; pass the store's clock so both read the same time.
   */
  now?: () => number;
  /**
   * Turns a task's session_id into the gateway's key (per principal or not;
   * a `SessionKeys` of `gateway/session_key.ts`). Default: unchanged.
   */
  sessionKeys?: {
    toGateway(principal: string, sessionId: string | null): Promise<string | undefined>;
  };
}

interface Active {
  claim: Claim;
  controller: AbortController;
  renewedAt: number;
  done: Promise<void>;
  /** Why it was aborted: cancelled/lost (store already moved on) or stop (release). */
  reason?: "lost" | "stop";
  /** Store writes for this claim, one at a time: a renewal never races the final commit. */
  writes: Promise<unknown>;
}

/** Runs `write` after the claim's earlier writes. */
function serial<T>(active: Active, write: () => Promise<T>): Promise<T> {
  const next = active.writes.then(write);
  active.writes = next.catch(() => {});
  return next;
}

/** Runs tasks from a {@linkcode TaskStore}. */
export class TaskRunner {
  /** This runner's id (recorded on claimed tasks). */
  readonly id: string;
  #store: TaskStore;
  #gateways: GatewayRegistry;
  #log: Logger;
  #concurrency: number;
  #perInstance: Record<string, number>;
  #global: number | undefined;
  #leaseMs: number;
  #watchMs: number;
  #idlePollMs: number;
  #sessionKeys: NonNullable<RunnerOptions["sessionKeys"]>;
  #now: () => number;
  #active = new Map<string, Active>();
  #wake?: () => void;
  #stopped = false;
  #loop?: Promise<void>;
  #lastSweep = -Infinity;

  /** Creates a runner; call {@linkcode TaskRunner.start}. */
  constructor(options: RunnerOptions) {
    this.#store = options.store;
    this.#gateways = options.gateways;
    this.#log = options.log;
    this.#concurrency = options.concurrency ?? 4;
    this.#perInstance = options.instanceConcurrency ?? {};
    this.#global = options.globalConcurrency;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#watchMs = options.watchMs ?? 250;
    this.#idlePollMs = options.idlePollMs ?? 1_000;
    this.#sessionKeys = options.sessionKeys ?? new SessionKeys();
    this.id = options.id ?? crypto.randomUUID();
    this.#now = options.now ?? Date.now;
  }

  /** Number of tasks running here now. */
  get running(): number {
    return this.#active.size;
  }

  /** Starts the loop. */
  start(): void {
    this.#loop ??= this.#run().catch((error) => {
      this.#log.error("runner_crashed", { error: String(error) });
    });
  }

  /** Looks for work now (call after a submit). */
  wake(): void {
    this.#wake?.();
  }

  /**
   * Stops claiming, aborts running tasks and returns them to the queue
   * (their attempt is not counted), then resolves.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    for (const active of this.#active.values()) {
      active.reason ??= "stop";
      active.controller.abort();
    }
    await Promise.all([...this.#active.values()].map((a) => a.done));
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        await this.#housekeeping();
        await this.#fill();
        await this.#watch();
      } catch (error) {
        this.#log.warn("runner_tick_failed", { error: String(error) });
      }
      if (this.#stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#active.size > 0 ? this.#watchMs : this.#idlePollMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = undefined;
    }
  }

  async #housekeeping(): Promise<void> {
    const now = this.#now();
    if (now - this.#lastSweep < this.#idlePollMs) return;
    this.#lastSweep = now;
    const migrated = await this.#store.migratePending();
    if (migrated) this.#log.info("tasks_migrated", { count: migrated });
    const recovered = await this.#store.recoverExpired();
    if (recovered) this.#log.warn("tasks_recovered", { count: recovered });
    const expired = await this.#store.expirePending();
    if (expired) this.#log.warn("tasks_expired", { count: expired });
    await this.#store.sweep();
  }

  async #fill(): Promise<void> {
    while (!this.#stopped && this.#active.size < this.#concurrency) {
      const claim = await this.#store.claim(this.id, this.#leaseMs, {
        instanceConcurrency: this.#perInstance,
        globalConcurrency: this.#global,
      });
      if (!claim) return;
      if (this.#stopped) {
        // stop() came while this claim was in flight: hand the task back
        // rather than start it after stop() stopped waiting.
        await this.#store.release(claim);
        return;
      }
      const active: Active = {
        claim,
        controller: new AbortController(),
        renewedAt: this.#now(),
        done: Promise.resolve(),
        writes: Promise.resolve(),
      };
      this.#active.set(claim.task.id, active);
      active.done = this.#execute(active).finally(() => {
        this.#active.delete(claim.task.id);
        this.#wake?.();
      });
    }
  }

  /** Renews due leases and aborts tasks that were cancelled or lost. */
  async #watch(): Promise<void> {
    const actives = [...this.#active.values()];
    const stamps = await this.#store.versionstamps(actives.map((a) => a.claim.task.id));
    for (const [i, active] of actives.entries()) {
      if (active.controller.signal.aborted) continue;
      if (stamps[i] !== active.claim.versionstamp) {
        active.reason = "lost";
        active.controller.abort();
        continue;
      }
      if (this.#now() - active.renewedAt >= this.#leaseMs / 3) await this.#renew(active);
    }
  }

  /** Extends the claim's lease, after the claim's earlier writes. */
  #renew(active: Active): Promise<void> {
    return serial(active, async () => {
      if (active.controller.signal.aborted) return;
      const versionstamp = await this.#store.renew(active.claim, this.#leaseMs);
      if (versionstamp) {
        active.claim = {
          task: { ...active.claim.task, leaseUntil: this.#now() + this.#leaseMs },
          versionstamp,
        };
        active.renewedAt = this.#now();
      }
    });
  }

  async #execute(active: Active): Promise<void> {
    const { task } = active.claim;
    const started = this.#now();
    this.#log.info("task_started", {
      task: task.id,
      instance: task.instance,
      attempt: task.attempt,
      // Time in the queue since submission; a later attempt's wait since it
      // went back to the queue is not recorded on the task.
      ...(task.attempt === 1 ? { wait_ms: Math.max(0, started - task.createdAt) } : {}),
    });
    const partial = this.#partialSaver(active);
    let waits: { stop(): Promise<void>; onRunId(id: string): void } | undefined;
    try {
      const client = this.#gateways.get(task.instance);
      const message = await this.#store.message(task);
      const sessionId = await this.#sessionKeys.toGateway(task.owner, task.sessionId);
      waits = this.#watchApprovals(active, client.approvals, sessionId);
      const reply = await client.chat({
        message,
        sessionId,
        agent: task.agent ?? undefined,
        signal: active.controller.signal,
        onDelta: (_d, text) => partial.push(text),
        onRunId: waits?.onRunId,
      });
      await waits?.stop();
      await partial.finish();
      const ok = await serial(active, () =>
        this.#store.complete(active.claim, reply.reply, {
          model: reply.model,
          usage: reply.usage,
          finishReason: reply.finishReason,
        }));
      this.#log.info("task_finished", {
        task: task.id,
        instance: task.instance,
        outcome: ok ? "completed" : "stale",
        ms: Math.round(this.#now() - started),
      });
    } catch (thrown) {
      await waits?.stop();
      await partial.finish();
      await this.#settleFailure(active, { thrown, started });
    }
  }

  /**
   * While the task's conversation (or, without a session, its agent run)
   * runs, records in the store the approvals it waits on (so `openclaw_task_status` shows them from any replica);
   * `stop` ends the watch and clears the record.
   */
  #watchApprovals(
    active: Active,
    approvals: GatewayApprovals | undefined,
    sessionKey: string | undefined,
  ): { stop(): Promise<void>; onRunId(id: string): void } | undefined {
    if (!approvals) return undefined;
    const { task } = active.claim;
    const waiting = new Map<string, Approval>();
    let saving = Promise.resolve();
    const save = () => {
      const list = [...waiting.values()];
      saving = saving.then(() => this.#store.setWaiting(task, list)).catch(() => {});
    };
    const watch = new ChatApprovals(approvals, sessionKey, {
      requested: (approval) => {
        // The store keeps the oldest few; a flood is not held in memory either.
        if (waiting.has(approval.id) || waiting.size >= MAX_WAITING) return;
        waiting.set(approval.id, approval);
        this.#log.info("task_waiting_for_approval", {
          task: task.id,
          instance: task.instance,
          approval: approval.id,
          kind: approval.kind,
        });
        save();
      },
      resolved: (id) => {
        if (waiting.delete(id)) save();
      },
    });
    return {
      onRunId: watch.onRunId,
      stop: async () => {
        watch.stop();
        if (waiting.size > 0) {
          waiting.clear();
          save();
        }
        await saving;
      },
    };
  }

  /**
   * Saves the growing reply at most every {@linkcode PARTIAL_INTERVAL_MS},
   * appending only what is new; `finish` drops a pending save and waits for
   * the ones under way.
   */
  #partialSaver(active: Active): { push(text: string): void; finish(): Promise<void> } {
    let saved = 0;
    let saving = Promise.resolve();
    const partial = throttle<string>(PARTIAL_INTERVAL_MS, (text) => {
      const from = saved;
      saved = text.length;
      saving = saving.then(() =>
        this.#store.savePartial(active.claim.task, text, { fromChars: from })
      )
        .catch(() => {});
    });
    return {
      push: (text) => partial.push(text),
      finish: () => {
        partial.stop();
        return saving;
      },
    };
  }

  /**
   * A run that threw: handed back on stop, left alone when cancelled or
   * lost (the store already moved on), failed with its error otherwise.
   */
  async #settleFailure(
    active: Active,
    outcome: { thrown: unknown; started: number },
  ): Promise<void> {
    const { task } = active.claim;
    if (active.reason === "stop") {
      await serial(active, () => this.#store.release(active.claim));
      this.#log.info("task_released", { task: task.id });
      return;
    }
    if (active.reason === "lost") {
      this.#log.info("task_abandoned", { task: task.id, why: "cancelled or lease lost" });
      return;
    }
    const { thrown } = outcome;
    const error = toBridgeError(thrown);
    if (!(thrown instanceof BridgeError)) {
      this.#log.error("task_crash", { task: task.id, error: String(thrown) });
    }
    await serial(active, () => this.#store.fail(active.claim, error.toJSON()));
    this.#log.info("task_finished", {
      task: task.id,
      instance: task.instance,
      outcome: error.code,
      ms: Math.round(this.#now() - outcome.started),
    });
  }
}
