/**
 * Bytes of audio that may wait in queues at once: a room's, drawing on its media server's too, so neither one
 * room nor all of them together can queue more than their budget (`MAX_QUEUED_AUDIO_MB_PER_ROOM`,
 * `MAX_QUEUED_AUDIO_MB`). Counted as frames are queued and played out: two additions per frame.
 */
export class AudioBudget {
  private used = 0;

  constructor(
    readonly limit: number,
    private readonly parent?: AudioBudget,
  ) {}

  /** Takes `bytes`, or nothing and false when this budget or its parent's would go over. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    if (this.parent && !this.parent.take(bytes)) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used -= bytes;
    this.parent?.give(bytes);
  }
}
