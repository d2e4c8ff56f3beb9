import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  AsmError,
  type ControlBus,
  type ControlMessage,
  type EventSubscription,
  type LeaseGrant,
  type SessionLease,
} from '@asm/core';

/**
 * Options that make session servers share sessions across runtime instances (processes sharing one
 * store). Pass `lease` and `control` together; everything else has defaults.
 */
export interface MultiInstanceOptions {
  /** Per-session leases shared by every instance (Redis, PostgreSQL, or in-process for tests). */
  lease?: SessionLease;
  /** Messages between instances: run submitted, cancel requested, lease released. */
  control?: ControlBus;
  /** This instance's id (the lease holder id). Default `{hostname}:{pid}:{random}`. */
  instanceId?: string;
  /**
   * Time to live of a session lease (ms). The holder renews it every third of that; after a holder
   * dies, its sessions wait this long before another instance takes over. Default 15,000.
   */
  leaseTtlMs?: number;
  /**
   * Safety-net period (ms): a follower tries to take the lease, and the holder re-reads the store for
   * runs submitted elsewhere whose message it missed. Default 5,000.
   */
  pollIntervalMs?: number;
  /** How long `cancelRun` waits for another instance to stop a run (ms). Default 30,000. */
  remoteCancelTimeoutMs?: number;
}

/** Control message types the runtime sends. */
export const CONTROL = {
  /** A run was persisted as pending: the holder should pick it up. */
  runSubmitted: 'run_submitted',
  /** A run finished (any terminal status): waiters on other instances re-read the store. */
  runFinished: 'run_finished',
  /**
   * Someone asks the holder to act on a run: `data.operation` (`cancel`, `interrupt`, `pause`,
   * `resume`), `data.reason`; with `data.requestId` it is a recorded control operation.
   */
  operationRequested: 'operation_requested',
  /** The holder applied (and recorded) a requested control operation: requesters re-read the log. */
  operationApplied: 'operation_applied',
  /** The holder gave the lease up (closing): followers try to take it now. */
  leaseReleased: 'lease_released',
} as const;

/** A fresh instance id: `{hostname}:{pid}:{8 hex}`. */
export function defaultInstanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/** What the coordinator tells its session server. */
export interface CoordinatorHooks {
  /** This instance now holds the lease (recover orphaned runs, load the queue). */
  becameHolder(grant: LeaseGrant): Promise<void>;
  /** The lease is gone (renewal refused, or unreachable past its expiry): stop executing. */
  lostLease(reason: 'lease_lost' | 'lease_unreachable'): void;
  /** A control message of this session arrived (own ones included). */
  message(message: ControlMessage): void;
  /** The periodic safety-net tick, while holding. */
  holderTick(): void;
  /** Anything happened that waiters might care about (a message, a tick). */
  changed(): void;
}

/** Resolved multi-instance settings. */
export interface CoordinatorSettings {
  sessionId: string;
  lease: SessionLease;
  control: ControlBus;
  instanceId: string;
  leaseTtlMs: number;
  pollIntervalMs: number;
  remoteCancelTimeoutMs: number;
}

function positiveInteger(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 2_147_483_647) {
    throw new AsmError('validation_error', `${field} must be a positive integer (ms)`, {
      details: { field },
    });
  }
  return value;
}

/**
 * Checks multi-instance options. Returns `undefined` when neither `lease` nor `control` is set
 * (single-instance mode); `validation_error` when only one of them is.
 */
export function resolveMultiInstance(
  options: MultiInstanceOptions,
  sessionId: string,
): CoordinatorSettings | undefined {
  if (options.lease === undefined && options.control === undefined) return undefined;
  if (options.lease === undefined || options.control === undefined) {
    throw new AsmError('validation_error', 'Several instances need both a lease and a control bus', {
      details: { field: options.lease === undefined ? 'lease' : 'control' },
    });
  }
  const instanceId = options.instanceId ?? defaultInstanceId();
  if (typeof instanceId !== 'string' || instanceId === '') {
    throw new AsmError('validation_error', 'instanceId must be a non-empty string', {
      details: { field: 'instanceId' },
    });
  }
  const leaseTtlMs = positiveInteger(options.leaseTtlMs, 'leaseTtlMs', 15_000);
  if (leaseTtlMs < 30) {
    throw new AsmError('validation_error', 'leaseTtlMs must be at least 30 ms', {
      details: { field: 'leaseTtlMs' },
    });
  }
  return {
    sessionId,
    lease: options.lease,
    control: options.control,
    instanceId,
    leaseTtlMs,
    pollIntervalMs: positiveInteger(options.pollIntervalMs, 'pollIntervalMs', 5_000),
    remoteCancelTimeoutMs: positiveInteger(options.remoteCancelTimeoutMs, 'remoteCancelTimeoutMs', 30_000),
  };
}

/**
 * One session server's part in a group of instances: takes and renews the session's lease, follows
 * the session's control messages, and ticks the safety-net poll. It decides nothing about runs; it
 * tells the server through hooks.
 */
export class SessionCoordinator {
  private holding = false;
  private grant: LeaseGrant | undefined;
  /** Local time until which the lease is surely ours (the last successful renewal's `expiresAt`). */
  private heldUntil = 0;
  private acquiring: Promise<void> | undefined;
  private renewing: Promise<void> | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private subscription: EventSubscription | undefined;
  private stopped = false;

  constructor(
    readonly settings: CoordinatorSettings,
    private readonly hooks: CoordinatorHooks,
  ) {}

  /** True while this instance holds the lease. */
  get isHolder(): boolean {
    return this.holding;
  }

  /** The current grant while holding. */
  get currentGrant(): LeaseGrant | undefined {
    return this.holding ? this.grant : undefined;
  }

  /** True while a new run may start here: holding, and the lease surely not expired yet. */
  canStartRuns(): boolean {
    return this.holding && !this.stopped && Date.now() < this.heldUntil;
  }

  /** Subscribes to the session's messages, tries the lease once, and starts the periodic tick. */
  async start(): Promise<void> {
    this.subscription = await this.settings.control.subscribe(this.settings.sessionId, (message) =>
      this.onMessage(message),
    );
    await this.tryAcquire();
    this.tickTimer = setInterval(() => this.tick(), this.settings.pollIntervalMs);
    this.tickTimer.unref();
  }

  /** Sends a control message about this session (best effort: failures are ignored). */
  async publish(type: string, runId?: string, data?: Record<string, unknown>): Promise<void> {
    if (this.subscription === undefined) return;
    await this.settings.control
      .publish({
        type,
        sessionId: this.settings.sessionId,
        from: this.settings.instanceId,
        ...(runId === undefined ? {} : { runId }),
        ...(data === undefined ? {} : { data }),
      })
      .catch(() => undefined);
  }

  /** Tries to take the lease now (coalesced with an attempt in flight). */
  tryAcquire(): Promise<void> {
    if (this.holding || this.stopped) return Promise.resolve();
    this.acquiring ??= this.acquire().finally(() => {
      this.acquiring = undefined;
    });
    return this.acquiring;
  }

  /** Stops taking the lease and ticking; keeps renewing a held lease until `release()`. */
  stop(): void {
    this.stopped = true;
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer);
    this.tickTimer = undefined;
  }

  /** Gives the lease up (telling the others), stops renewing and unsubscribes. Idempotent. */
  async release(): Promise<void> {
    this.stop();
    if (this.renewTimer !== undefined) clearInterval(this.renewTimer);
    this.renewTimer = undefined;
    await this.acquiring;
    await this.renewing;
    if (this.holding) {
      this.holding = false;
      const released = await this.settings.lease
        .release(this.settings.sessionId, this.settings.instanceId)
        .catch(() => false);
      if (released) await this.publish(CONTROL.leaseReleased);
    }
    const subscription = this.subscription;
    this.subscription = undefined;
    await subscription?.unsubscribe().catch(() => undefined);
  }

  private async acquire(): Promise<void> {
    let grant: LeaseGrant | undefined;
    try {
      grant = await this.settings.lease.acquire(
        this.settings.sessionId,
        this.settings.instanceId,
        this.settings.leaseTtlMs,
      );
    } catch {
      return; // Backend unreachable: the next tick tries again.
    }
    if (grant === undefined || this.stopped) {
      if (grant !== undefined) {
        await this.settings.lease
          .release(this.settings.sessionId, this.settings.instanceId)
          .catch(() => false);
      }
      return;
    }
    this.holding = true;
    this.grant = grant;
    this.heldUntil = grant.expiresAt;
    this.renewTimer = setInterval(
      () => {
        this.renewing ??= this.renew().finally(() => {
          this.renewing = undefined;
        });
      },
      Math.max(10, Math.floor(this.settings.leaseTtlMs / 3)),
    );
    this.renewTimer.unref();
    await this.hooks.becameHolder(grant);
    this.hooks.changed();
  }

  private async renew(): Promise<void> {
    if (!this.holding) return;
    try {
      const grant = await this.settings.lease.renew(
        this.settings.sessionId,
        this.settings.instanceId,
        this.settings.leaseTtlMs,
      );
      if (!this.holding) return;
      if (grant === undefined) {
        this.lose('lease_lost');
        return;
      }
      this.grant = grant;
      this.heldUntil = grant.expiresAt;
    } catch {
      if (this.holding && Date.now() >= this.heldUntil) this.lose('lease_unreachable');
    }
  }

  private lose(reason: 'lease_lost' | 'lease_unreachable'): void {
    this.holding = false;
    this.grant = undefined;
    if (this.renewTimer !== undefined) clearInterval(this.renewTimer);
    this.renewTimer = undefined;
    this.hooks.lostLease(reason);
    this.hooks.changed();
  }

  private tick(): void {
    if (this.stopped) return;
    if (this.holding) {
      if (Date.now() >= this.heldUntil) {
        // Renewals have not succeeded for a whole TTL (e.g. the event loop stalled): assume it lost.
        this.lose('lease_unreachable');
      } else {
        this.hooks.holderTick();
      }
    } else {
      void this.tryAcquire();
    }
    this.hooks.changed();
  }

  private onMessage(message: ControlMessage): void {
    if (message.sessionId !== this.settings.sessionId) return;
    if (
      message.type === CONTROL.leaseReleased &&
      message.from !== this.settings.instanceId &&
      !this.holding &&
      !this.stopped
    ) {
      void this.tryAcquire();
    }
    this.hooks.message(message);
    this.hooks.changed();
  }
}
