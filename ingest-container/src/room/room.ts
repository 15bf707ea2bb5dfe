import { Frame, samplesPerFrame } from '../audio/frame';
import type { SampleRate } from '../../../core/rooms';
import { Resampler } from '../audio/resampler';
import type { AudioBudget } from './audio-budget';
import type { MediaClock } from './clock';
import type { EndpointStats } from '../transport/endpoint';
import type { JitterBuffer } from './jitter-buffer';
import type { MediaCounters } from '../metrics';
import type { RoomHangupReason } from '../calls/lifecycle';

export type ParticipantKind = 'phone' | 'agent' | 'web';

export interface PhoneInfo {
  /** The caller's number; masked (`+*******0100`) when the call's rule has `hidePhoneNumber`. */
  readonly from: string;
  readonly to: string;
  readonly callUuid: string;
  readonly callId: string;
  /** An outbound call's `participant.name` (`POST /v2/sip/call`). */
  readonly name?: string;
  /** From the call's SIP headers, as its rule maps them (`includeHeaders`, `headersToAttributes`); absent when none. */
  readonly attributes?: Readonly<Record<string, string>>;
  /** The call is to be recorded (its rule's `recording`, an outbound call's `recordAudio`): the room records it as it joins. */
  readonly record?: true;
}

/** What other participants learn about a participant. */
export interface ParticipantInfo {
  readonly id: string;
  readonly kind: ParticipantKind;
  readonly phone?: PhoneInfo;
}

export type RoomEvent =
  | { readonly type: 'participant-joined'; readonly participant: ParticipantInfo }
  | { readonly type: 'participant-left'; readonly participantId: string; readonly reason: string }
  | { readonly type: 'dtmf'; readonly participantId: string; readonly digit: string }
  | { readonly type: 'checkpoint-played'; readonly participantId: string; readonly name: string }
  /** Each speaker's peak over the last 100 ms (0..1); silent participants are left out. */
  | { readonly type: 'levels'; readonly levels: Readonly<Record<string, number>> }
  /** Every member's counts since it joined, every 2 s. */
  | { readonly type: 'quality'; readonly quality: Readonly<Record<string, ParticipantQuality>> };

/**
 * What a `quality` event says of one member: counters its connection and its jitter buffer keep anyway, read every
 * 2 s while someone wants levels, never counted for it.
 */
export interface ParticipantQuality {
  /** Frames of audio received from it. */
  readonly framesIn: number;
  /** Frames of audio sent to it. */
  readonly framesOut: number;
  /** Frames it was not sent: its peer was over a second behind reading, or its socket backed up. */
  readonly droppedOut: number;
  /** Times its jitter buffer ran dry while playing: its audio came late. */
  readonly underruns: number;
  /** Frames of its audio its jitter buffer dropped: over capacity, or trimmed to bring latency back down. */
  readonly droppedIn: number;
}

/** A phone participant's controls, used by others in the room. */
export interface PhoneControl {
  clearAudio(): void;
  sendDtmf(digits: string): void;
  checkpoint(name: string): void;
  hangup(reason: RoomHangupReason): void;
}

/** A room member as the room sees it: an inbound queue it pulls from and a sink it delivers to. */
export interface Participant extends ParticipantInfo {
  readonly rate: SampleRate;
  readonly input: JitterBuffer;
  /** What its connection counted (frames in and out, dropped), read for `quality` events. */
  readonly stats: EndpointStats;
  readonly phoneControl?: PhoneControl;
  /** Receives `levels` and `quality` events (a console's meters); costs a decode per phone frame while anyone does. */
  readonly wantsLevels?: boolean;
  muted: boolean;
  /** One 20 ms frame of what this participant hears. */
  deliver(frame: Frame): void;
  /** Room events; phone participants ignore them. */
  notify(event: RoomEvent): void;
}

/**
 * Told of a room's members as they come and go (its session record, core/sessions): at join and leave only, never per
 * frame. Each call returns at once: whatever it writes, it writes later, and a failure there never fails a join.
 */
export interface RoomWatcher {
  joined(participant: ParticipantInfo): void;
  left(participantId: string): void;
  /**
   * The last member left: the room is gone. `abandoned`: this server gave the room up (it is stopping, or the room
   * moved to another server), so the room's life goes on elsewhere or later; else its session really ended.
   */
  closed(abandoned: boolean): void;
}

/** Makes the watcher of each room as it is created. */
export interface RoomWatchers {
  watch(tenant: string, roomId: string): RoomWatcher;
}

/** Several watchers of each room (its session record, its recordings), each told in the order given. */
export function everyWatcher(...all: readonly RoomWatchers[]): RoomWatchers {
  return {
    watch: (tenant, roomId) => {
      const watchers = all.map((w) => w.watch(tenant, roomId));
      return {
        joined: (participant) => watchers.forEach((w) => w.joined(participant)),
        left: (participantId) => watchers.forEach((w) => w.left(participantId)),
        closed: (abandoned) => watchers.forEach((w) => w.closed(abandoned)),
      };
    },
  };
}

/** A member's audio in one tick, as a recorder is given it. */
export interface TappedMember {
  readonly participant: Participant;
  /** What it said this tick (not muted, not silence), null when silent. */
  readonly speech: Frame | null;
}

/**
 * Taps a room's audio (recording/): given, once per room tick (the room's one clock: no timer of its own), every
 * member's audio of that tick, silent ticks included. Called inline, as a member's deliver is; a throw is reported as a
 * listener error and the room goes on.
 */
export interface RoomRecorder {
  /** `members`: the room's members this tick, by participant id; read during the call only, never kept. */
  tick(members: ReadonlyMap<string, TappedMember>): void;
}

/** A member's deliver or notify threw: reported with the ids, the room and its other members go on (mediasoup's `safeEmit`). */
export type ListenerError = (err: unknown, ids: { readonly tenant: string; readonly roomId: string; readonly participantId: string }) => void;

const infoOf = ({ id, kind, phone }: Participant): ParticipantInfo => (phone ? { id, kind, phone } : { id, kind });

/** Per-member state the room keeps: resamplers, and this tick's contribution to the mix. */
interface Member {
  readonly participant: Participant;
  /** This member's audio converted to other rates, one resampler per target rate (stateful). */
  readonly outbound: Map<SampleRate, Resampler>;
  /** From the room's mix rate down to this member's rate. */
  fromMix: Resampler | null;
  /** What the member said this tick, if anything (not muted, not silence). */
  speech: Frame | null;
  /** This tick's frame at the mix rate, when the member spoke in a mixed tick. */
  mixed: Int16Array | null;
  /** Loudest sample since the last `levels` event, while someone wants levels. */
  peak: number;
  /** Passes on a checkpoint met in this member's queue (made once: the queue is pulled every tick). */
  readonly onCheckpoint: (name: string) => void;
}

/** `levels` events go out every 5 ticks: 100 ms. */
const LEVEL_TICKS = 5;
/** `quality` events every 100 ticks (2 s): a multiple of `LEVEL_TICKS`, so rooms nobody watches test nothing more. */
const QUALITY_TICKS = 100;

function peakOf(pcm: Int16Array): number {
  let peak = 0;
  for (let i = 0; i < pcm.length; i++) {
    const v = pcm[i] as number;
    if (v > peak) peak = v;
    else if (-v > peak) peak = -v;
  }
  return peak;
}

/**
 * A room: everyone hears everyone else (mix-minus). Each tick takes at most one frame from every
 * member's jitter buffer. Nobody speaking costs nothing; one speaker is forwarded (resampled per
 * listener rate only when rates differ, and for 8 kHz callers the mu-law text goes through untouched),
 * and so are both sides of a two-party room where both talk; otherwise several speakers are summed once at the room's highest rate, and each listener gets the sum minus
 * its own voice, saturated to 16 bits.
 */
export class Room {
  private readonly members = new Map<string, Member>();
  private mixRate: SampleRate = 8000;
  private sum = new Int32Array(samplesPerFrame(8000));
  private closed = false;
  /** Given up by this server (`abandon`): its watcher is told, as the room closes. */
  private abandoned = false;
  private levelWatchers = 0;
  /** The last `levels` event had nobody in it: silence is sent once, not every 100 ms. */
  private levelsQuiet = false;
  private ticks = 0;
  /** Its recorders (`record`); a room without any checks this once per tick and pays nothing more. */
  private readonly recorders = new Set<RoomRecorder>();

  constructor(
    readonly tenant: string,
    readonly id: string,
    private readonly clock: MediaClock,
    private readonly onEmpty: (room: Room) => void,
    /** What its members' queues may hold beyond their own second each (audio sent ahead). */
    readonly audioBudget: AudioBudget,
    /** The server's counts: its members count the trouble with their audio (underruns, drops) into them. */
    readonly counters: MediaCounters,
    private readonly onListenerError: ListenerError,
    private readonly watcher?: RoomWatcher,
  ) {
    clock.add(this);
  }

  participants(): ParticipantInfo[] {
    return [...this.members.values()].map((m) => infoOf(m.participant));
  }

  get(participantId: string): Participant | undefined {
    return this.members.get(participantId)?.participant;
  }

  phones(): Participant[] {
    return [...this.members.values()].map((m) => m.participant).filter((p) => p.kind === 'phone');
  }

  join(participant: Participant): void {
    if (this.closed) throw new Error(`Room ${this.id} is closed`);
    this.broadcast({ type: 'participant-joined', participant: infoOf(participant) });
    this.members.set(participant.id, { participant, outbound: new Map(), fromMix: null, speech: null, mixed: null, peak: 0, onCheckpoint: (name) => this.checkpoint(participant, name) });
    if (participant.wantsLevels) this.levelWatchers++;
    this.updateMixRate();
    this.watcher?.joined(infoOf(participant));
  }

  leave(participantId: string, reason: string): void {
    const member = this.members.get(participantId);
    if (!member) return;
    this.members.delete(participantId);
    // What it had queued is given back to the budgets now, not whenever its socket object is collected.
    member.participant.input.clear();
    if (member.participant.wantsLevels) this.levelWatchers--;
    this.broadcast({ type: 'participant-left', participantId, reason });
    this.watcher?.left(participantId);
    if (this.members.size === 0) this.close();
    else this.updateMixRate();
  }

  broadcast(event: RoomEvent, except?: string): void {
    for (const { participant } of this.members.values()) if (participant.id !== except) this.notify(participant, event);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clock.delete(this);
    this.onEmpty(this);
    this.watcher?.closed(this.abandoned);
  }

  /** The rate the room mixes at now: its members' highest. */
  get rate(): SampleRate {
    return this.mixRate;
  }

  /** Taps the room's audio from its next tick on, until the returned detach is called. */
  record(recorder: RoomRecorder): () => void {
    this.recorders.add(recorder);
    return () => {
      this.recorders.delete(recorder);
    };
  }

  /** This server gives the room up (it stops, or the room moved away): its members are about to be closed. */
  abandon(): void {
    this.abandoned = true;
  }

  tick(): void {
    this.ticks++;
    if (this.levelWatchers > 0 && this.ticks % LEVEL_TICKS === 0) {
      this.sendLevels();
      if (this.ticks % QUALITY_TICKS === 0) this.sendQuality();
    }
    let speakers = 0;
    let first: Member | null = null;
    let second: Member | null = null;
    for (const member of this.members.values()) {
      const { participant } = member;
      const frame = participant.input.pull(member.onCheckpoint);
      member.speech = frame && !participant.muted && !frame.silent ? frame : null;
      if (!member.speech) continue;
      if (this.levelWatchers > 0) member.peak = Math.max(member.peak, peakOf(member.speech.pcm));
      if (++speakers === 1) first = member;
      else if (speakers === 2) second = member;
    }
    // Recorders get every tick, silent ones too, before the early return below.
    if (this.recorders.size > 0) this.tap();
    // Nobody speaking: nothing to do.
    if (!first) return;
    if (speakers === 1) {
      for (const member of this.members.values()) if (member !== first) this.forward(first, member);
    } else if (second && this.members.size === 2) {
      // A two-party room where both talk: each hears exactly the other, so no mix is needed.
      this.forward(first, second);
      this.forward(second, first);
    } else this.mix();
  }

  /** The speaker's frame to one listener: itself when the rates match, else through the speaker's resampler. */
  private forward(speaker: Member, listener: Member): void {
    this.deliver(listener.participant, this.convert(speaker, speaker.speech as Frame, listener.participant.rate));
  }

  private convert(speaker: Member, frame: Frame, rate: SampleRate): Frame {
    if (frame.rate === rate) return frame;
    let resampler = speaker.outbound.get(rate);
    if (!resampler || resampler.fromRate !== frame.rate) speaker.outbound.set(rate, (resampler = new Resampler(frame.rate, rate)));
    return Frame.fromPcm(rate, resampler.process(frame.pcm));
  }

  /** Sums every speaker once at the mix rate; each listener gets the sum minus its own voice, saturated. */
  private mix(): void {
    const sum = this.sum;
    sum.fill(0);
    for (const member of this.members.values()) {
      member.mixed = member.speech ? this.convert(member, member.speech, this.mixRate).pcm : null;
      const pcm = member.mixed;
      if (pcm) for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (pcm[i] as number);
    }
    for (const member of this.members.values()) {
      const own = member.mixed;
      const out = new Int16Array(sum.length);
      for (let i = 0; i < sum.length; i++) {
        const value = (sum[i] as number) - (own ? (own[i] as number) : 0);
        out[i] = value > 32767 ? 32767 : value < -32768 ? -32768 : value;
      }
      const { rate } = member.participant;
      if (rate !== this.mixRate) {
        if (!member.fromMix || member.fromMix.fromRate !== this.mixRate) member.fromMix = new Resampler(this.mixRate, rate);
        this.deliver(member.participant, Frame.fromPcm(rate, member.fromMix.process(out)));
      } else this.deliver(member.participant, Frame.fromPcm(rate, out));
    }
  }

  private tap(): void {
    for (const recorder of this.recorders) {
      try {
        recorder.tick(this.members);
      } catch (err) {
        this.onListenerError(err, { tenant: this.tenant, roomId: this.id, participantId: 'recorder' });
      }
    }
  }

  private sendLevels(): void {
    const levels: Record<string, number> = {};
    for (const member of this.members.values()) {
      if (member.peak > 0) levels[member.participant.id] = Math.round((member.peak / 32768) * 1000) / 1000;
      member.peak = 0;
    }
    const quiet = Object.keys(levels).length === 0;
    if (quiet && this.levelsQuiet) return;
    this.levelsQuiet = quiet;
    this.notifyWatchers({ type: 'levels', levels });
  }

  private sendQuality(): void {
    const quality: Record<string, ParticipantQuality> = {};
    for (const { participant } of this.members.values()) {
      const { framesIn, framesOut, droppedOut } = participant.stats;
      const { underruns, dropped } = participant.input.stats;
      quality[participant.id] = { framesIn, framesOut, droppedOut, underruns, droppedIn: dropped };
    }
    this.notifyWatchers({ type: 'quality', quality });
  }

  /** To the members that want levels. */
  private notifyWatchers(event: RoomEvent): void {
    for (const { participant } of this.members.values()) if (participant.wantsLevels) this.notify(participant, event);
  }

  // Each member is called on its own (inline, not through a closure: this runs for every frame of every listener).
  private deliver(participant: Participant, frame: Frame): void {
    try {
      participant.deliver(frame);
    } catch (err) {
      this.onListenerError(err, { tenant: this.tenant, roomId: this.id, participantId: participant.id });
    }
  }

  private notify(participant: Participant, event: RoomEvent): void {
    try {
      participant.notify(event);
    } catch (err) {
      this.onListenerError(err, { tenant: this.tenant, roomId: this.id, participantId: participant.id });
    }
  }

  private checkpoint(sender: Participant, name: string): void {
    for (const phone of this.phones()) if (phone !== sender) phone.phoneControl?.checkpoint(name);
  }

  private updateMixRate(): void {
    let rate: SampleRate = 8000;
    for (const { participant } of this.members.values()) if (participant.rate > rate) rate = participant.rate;
    if (rate !== this.mixRate) {
      this.mixRate = rate;
      this.sum = new Int32Array(samplesPerFrame(rate));
    }
  }
}
