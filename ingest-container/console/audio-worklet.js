// The console's audio thread: microphone -> 20 ms PCM16 frames for the room, and the room's
// frames -> the speakers, through a small queue (starts after 2 frames, holds at most 10: 200 ms).
const FRAME = 960; // 20 ms at 48 kHz
const START_FRAMES = 2;
const MAX_FRAMES = 10;

class RoomIO extends AudioWorkletProcessor {
  constructor() {
    super();
    this.captured = new Int16Array(FRAME);
    this.filled = 0;
    this.peak = 0;
    this.queue = [];
    this.playing = null;
    this.offset = 0;
    this.started = false;
    this.port.onmessage = (event) => {
      if (this.queue.length >= MAX_FRAMES) this.queue.shift();
      this.queue.push(event.data);
    };
  }

  process(inputs, outputs) {
    const input = inputs[0] && inputs[0][0];
    if (input) {
      for (let i = 0; i < input.length; i++) {
        const s = Math.max(-1, Math.min(1, input[i]));
        this.captured[this.filled++] = s < 0 ? s * 32768 : s * 32767;
        if (Math.abs(s) > this.peak) this.peak = Math.abs(s);
        if (this.filled === FRAME) {
          this.port.postMessage({ frame: this.captured.buffer, peak: this.peak }, [this.captured.buffer]);
          this.captured = new Int16Array(FRAME);
          this.filled = 0;
          this.peak = 0;
        }
      }
    }
    const out = outputs[0];
    const channel = out[0];
    for (let i = 0; i < channel.length; i++) {
      if (!this.playing) {
        if (!this.started && this.queue.length < START_FRAMES) {
          channel[i] = 0;
          continue;
        }
        this.playing = this.queue.shift() || null;
        this.offset = 0;
        this.started = this.playing !== null;
        if (!this.playing) {
          channel[i] = 0;
          continue;
        }
      }
      channel[i] = this.playing[this.offset++] / 32768;
      if (this.offset === this.playing.length) this.playing = null;
    }
    for (let c = 1; c < out.length; c++) out[c].set(channel);
    return true;
  }
}

registerProcessor('room-io', RoomIO);
