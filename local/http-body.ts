import type { IncomingMessage } from 'node:http';

/** A request body over the reader's limit: the reader stops there, without buffering the rest. */
export class BodyTooLarge extends Error {}

/** The whole body of `req`, refused with `BodyTooLarge` past `maxBytes`. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new BodyTooLarge(`body over ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
