import type { NumberedPage, PageRequest } from '../pagination';
import type { Recording, RecordingStatus } from './model';

export interface RecordingFilter {
  readonly roomId?: string | undefined;
  readonly sessionId?: string | undefined;
}

/** How a recording ended: its status, end, and (once assembled) the WAV's size and duration. */
export interface RecordingEnd {
  readonly status: Exclude<RecordingStatus, 'recording'>;
  readonly end: string;
  readonly reason: string | null;
  readonly size: number | null;
  readonly duration: number | null;
}

/** Storage port of recording records (the control plane's table), every call scoped to one tenant. */
export interface RecordingStore {
  /**
   * Writes a new recording (status `recording`), in its server's `due` index (the sweeper finishes it if that server
   * dies). A room recording also takes the room's lock (one room recording per room at a time): false, nothing
   * written, when the room is recording already.
   */
  create(recording: Recording, retentionDays: number): Promise<boolean>;
  /** The media server began writing its audio at `start` (the WAV's first sample). Null when it is not `recording`. */
  began(tenant: string, id: string, start: string): Promise<Recording | null>;
  /** Ends a `recording` one (releasing its room's lock, leaving its server's `due` index); null when it had ended. */
  finish(tenant: string, id: string, end: RecordingEnd): Promise<Recording | null>;
  get(tenant: string, id: string): Promise<Recording | null>;
  /** The room's live room recording (by its lock), null when none. `roomId`: the room record's id. */
  active(tenant: string, roomId: string): Promise<Recording | null>;
  page(tenant: string, filter: RecordingFilter, request: PageRequest): Promise<NumberedPage<Recording>>;
  /** Deletes an ended recording's record. False when it does not exist or is still recording. */
  delete(tenant: string, id: string): Promise<boolean>;
  /** Recordings media server `serverId` left `recording` (the sweeper's view of a dead server). */
  leftBehind(serverId: string): Promise<readonly Recording[]>;
}
