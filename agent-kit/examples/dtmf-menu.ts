/**
 * A DTMF menu: plays `menu.wav` when the call comes, `option-1.wav` or `option-2.wav` when the caller presses 1 or 2
 * (any other key plays the menu again). A key pressed while a prompt plays stops it at once (barge-in: `clear`). After
 * each prompt it sends a checkpoint and logs the `checkpoint-played` that says the caller heard it all.
 *
 *   node --import tsx agent-kit/examples/dtmf-menu.ts --port 9000 [--prompts agent-kit/examples/prompts]
 *
 * The prompts are WAV files of any common format and rate (tools/audio.ts reads them), played at the session's rate.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Resampler } from '../../ingest-container/src/audio/resampler';
import { decodeWav } from '../../tools/audio';
import { frameSamples, type AgentSession, type SampleRate } from '../src';
import { log, serve } from './serve';

const PROMPTS = ['menu', 'option-1', 'option-2'] as const;
type Prompt = (typeof PROMPTS)[number];

/** Each prompt as 8 kHz PCM (decodeWav's rate), padded to whole 20 ms frames. */
function loadPrompts(dir: string): Record<Prompt, Int16Array> {
  const entries = PROMPTS.map((name) => {
    const file = join(dir, `${name}.wav`);
    let pcm: Int16Array;
    try {
      pcm = decodeWav(readFileSync(file));
    } catch (err) {
      process.stderr.write(`cannot read the prompt ${file}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(2);
    }
    const frame = frameSamples(8000);
    const padded = new Int16Array(Math.ceil(pcm.length / frame) * frame);
    padded.set(pcm);
    return [name, padded] as const;
  });
  return Object.fromEntries(entries) as Record<Prompt, Int16Array>;
}

/** The prompts at `rate`, resampled frame by frame once per rate. */
const atRate = new Map<SampleRate, Record<Prompt, Int16Array>>();
function promptsAt(prompts: Record<Prompt, Int16Array>, rate: SampleRate): Record<Prompt, Int16Array> {
  let resampled = atRate.get(rate);
  if (!resampled) {
    const convert = (pcm: Int16Array): Int16Array => {
      if (rate === 8000) return pcm;
      const resampler = new Resampler(8000, rate);
      const out = new Int16Array((pcm.length / resampler.inputSamples) * resampler.outputSamples);
      for (let i = 0; i * resampler.inputSamples < pcm.length; i++) {
        resampler.process(pcm.subarray(i * resampler.inputSamples, (i + 1) * resampler.inputSamples), out.subarray(i * resampler.outputSamples, (i + 1) * resampler.outputSamples));
      }
      return out;
    };
    resampled = Object.fromEntries(PROMPTS.map((name) => [name, convert(prompts[name])])) as Record<Prompt, Int16Array>;
    atRate.set(rate, resampled);
  }
  return resampled;
}

function menu(session: AgentSession, prompts: Record<Prompt, Int16Array>): void {
  /** The prompt the caller has not heard to its end yet (its checkpoint not played). */
  let playing: Prompt | undefined;
  const play = (prompt: Prompt) => {
    if (playing) {
      session.clear();
      log('barge-in', { stopped: playing });
    }
    playing = prompt;
    void session.send(promptsAt(prompts, session.sampleRate ?? 8000)[prompt]);
    session.checkpoint(prompt);
    log('playing', { prompt });
  };
  session.on('joined', () => play('menu'));
  session.on('dtmf', ({ digit }) => {
    log('dtmf', { digit });
    play(digit === '1' ? 'option-1' : digit === '2' ? 'option-2' : 'menu');
  });
  session.on('checkpoint-played', ({ name }) => {
    log('checkpoint-played', { name });
    if (name === playing) playing = undefined;
  });
}

void serve({ prompts: { type: 'string', default: join(__dirname, 'prompts') } }, (values) => {
  const prompts = loadPrompts(String(values.prompts));
  return (session) => menu(session, prompts);
});
