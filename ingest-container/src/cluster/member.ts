import type { Logger } from '../../../core/log';
import type { MediaServerRecord, Placement, PlacementStore } from '../../../core/placement';
import { roomKey } from '../room/key';

export interface MemberOptions {
  readonly serverId: string;
  /** `ws://<private address>:<relay port>`: where peers relay participants of rooms placed here. */
  readonly relayUrl: string;
  readonly sealedRelaySecret: string;
  readonly leaseMs: number;
  readonly log: Logger;
  /** A room this server held was taken over by another (its lease lapsed, e.g. while cut off from DynamoDB). */
  readonly onLost: (tenant: string, roomId: string) => void;
}

/** Lease renewals in flight at once, so a server with many rooms does not burst its table. */
const RENEW_CONCURRENCY = 16;

/** A room placed here: how many connections here use it, and the lease last written for it. */
interface Held {
  readonly tenant: string;
  readonly roomId: string;
  refs: number;
  lease: number;
}

/** Where a connection's room lives: here (with the hold to give back when the connection ends), or elsewhere. */
export type Placed = { readonly here: true; readonly release: () => void } | { readonly here: false; readonly owner: Placement };

/**
 * This media server as a member of its region: keeps its own server record and its rooms' placement
 * leases alive with one heartbeat (every third of the lease), places rooms here when nobody else holds
 * them, and lets a room go once no connection here uses it. A room held here is served without a table read.
 */
export class ClusterMember {
  private readonly held = new Map<string, Held>();
  /** Releases in flight, awaited by `stop`. */
  private readonly releasing = new Set<Promise<void>>();
  private state: MediaServerRecord['state'] = 'serving';
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;

  constructor(
    private readonly store: PlacementStore,
    private readonly options: MemberOptions,
  ) {}

  get serverId(): string {
    return this.options.serverId;
  }

  /** Writes the server record, then renews it and every held lease each third of the lease. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => {
      this.beating ??= this.beat()
        .catch((err: unknown) => this.options.log.error('placement heartbeat failed', { err }))
        .finally(() => (this.beating = null));
    }, this.options.leaseMs / 3);
  }

  /**
   * Where a new connection to the room goes: here (the room is held here, or nobody held it and now this
   * server does), or to the live owner. A connection placed here must `release` its hold once it ends (or never starts).
   */
  async place(tenant: string, roomId: string): Promise<Placed> {
    const k = roomKey(tenant, roomId);
    let entry = this.held.get(k);
    if (!entry) {
      // Draining: no new rooms, but one still placed here (released a moment ago, say) is taken back.
      const record = this.record();
      const placement = this.state === 'serving' ? await this.store.place(tenant, roomId, record) : await this.store.get(tenant, roomId);
      if (!placement) throw new Error('draining: this server takes no new rooms');
      if (placement.serverId !== this.serverId) return { here: false, owner: placement };
      entry = this.held.get(k);
      if (!entry) {
        this.held.set(k, (entry = { tenant, roomId, refs: 0, lease: placement.leaseExpiresAtMs }));
        this.options.log.info('room placed here', { tenant, roomId });
      }
    }
    const held = entry;
    held.refs++;
    let released = false;
    return {
      here: true,
      release: () => {
        if (released) return;
        released = true;
        if (--held.refs === 0 && this.held.get(k) === held) this.letGo(k, held);
      },
    };
  }

  /** Draining: no new rooms here; the record says so (the sweeper and operators see it). */
  async drain(): Promise<void> {
    this.state = 'draining';
    await this.beat().catch((err: unknown) => this.options.log.error('placement heartbeat failed', { err }));
  }

  /**
   * Stops the heartbeat, lets every room go and marks the record stopped with a lapsed lease: the sweeper
   * closes any call record left answered here at once, instead of after the lease.
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.beating;
    this.state = 'stopped';
    for (const [k, held] of [...this.held]) this.letGo(k, held);
    await Promise.allSettled([...this.releasing]);
    await this.store.heartbeat({ ...this.record(), state: 'stopped', leaseExpiresAtMs: Date.now() - 1 }).catch((err: unknown) => this.options.log.warn('could not mark this server stopped', { err }));
  }

  /**
   * The room's placement goes, so the next joiner places it wherever it lands. Only the lease last written
   * is deleted: a re-placement here that raced this release keeps its record.
   */
  private letGo(k: string, held: Held): void {
    this.held.delete(k);
    const { tenant, roomId } = held;
    const releasing = this.store
      .release(tenant, roomId, this.serverId, held.lease)
      .catch((err: unknown) => this.options.log.warn('room placement release failed; its lease will lapse', { tenant, roomId, err }))
      .finally(() => this.releasing.delete(releasing));
    this.releasing.add(releasing);
  }

  private record(): MediaServerRecord {
    const { serverId, relayUrl, sealedRelaySecret, leaseMs } = this.options;
    return { serverId, relayUrl, sealedRelaySecret, state: this.state, leaseExpiresAtMs: Date.now() + leaseMs, leaseMs };
  }

  private async beat(): Promise<void> {
    const record = this.record();
    await this.store.heartbeat(record);
    const rooms = [...this.held.entries()];
    for (let i = 0; i < rooms.length; i += RENEW_CONCURRENCY) {
      await Promise.all(
        rooms.slice(i, i + RENEW_CONCURRENCY).map(async ([k, held]) => {
          if (await this.store.renew(held.tenant, held.roomId, record)) {
            held.lease = record.leaseExpiresAtMs;
            return;
          }
          if (this.held.get(k) !== held) return;
          this.held.delete(k);
          const ids = { tenant: held.tenant, roomId: held.roomId };
          this.options.log.error('room lease lost to another server: its participants here are moved off', ids);
          // A listener that throws must not fail the heartbeat: the other rooms' leases are renewed all the same.
          try {
            this.options.onLost(held.tenant, held.roomId);
          } catch (err) {
            this.options.log.error('moving participants off a lost room failed', { err, ...ids });
          }
        }),
      );
    }
  }
}
