import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createHash, timingSafeEqual } from 'node:crypto';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../../core/errors';
import { ORIGIN_SECRET_HEADER } from '../edge';

/** API request bodies are small JSON documents; anything larger is refused before parsing. */
export const MAX_BODY_BYTES = 64 * 1024;

export function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  // API Gateway HTTP APIs lower-case header names; stay tolerant of hand-built events.
  const headers = event.headers ?? {};
  return headers[name] ?? Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
}

export function rawBody(event: APIGatewayProxyEventV2): Buffer {
  if (!event.body) return Buffer.alloc(0);
  return Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
}

/** The JSON body of a request, after checking its media type and size. */
export function jsonBody(event: APIGatewayProxyEventV2): unknown {
  const contentType = header(event, 'content-type');
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json') throw new UnsupportedMediaTypeError('application/json');
  const body = rawBody(event);
  if (body.length > MAX_BODY_BYTES) throw new PayloadTooLargeError(MAX_BODY_BYTES);
  if (body.length === 0) throw new BadRequestError('Request body is empty; send a JSON object');
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) as unknown;
  } catch (err) {
    const reason = err instanceof SyntaxError ? err.message : 'body is not valid UTF-8';
    throw new BadRequestError(`Malformed JSON: ${reason}`);
  }
}

/** Query parameters as a plain object (API Gateway joins repeated keys with commas). */
export function query(event: APIGatewayProxyEventV2): Record<string, string> {
  return Object.fromEntries(Object.entries(event.queryStringParameters ?? {}).filter(([, v]) => v !== undefined)) as Record<
    string,
    string
  >;
}

/**
 * Whether a request came through the edge, which adds `ORIGIN_SECRET_HEADER` with the origin secret (`ORIGIN_SECRET`);
 * null without a secret (no edge: any request may). Digests are compared, so neither the length nor any prefix of the
 * secret shows in the time a refusal takes.
 */
export function originCheck(secret: string | null): ((event: APIGatewayProxyEventV2) => boolean) | null {
  if (secret === null) return null;
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  const want = digest(secret);
  return (event) => timingSafeEqual(digest(header(event, ORIGIN_SECRET_HEADER) ?? ''), want);
}
