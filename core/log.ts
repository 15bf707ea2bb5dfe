import pino from 'pino';
import type PinoPretty from 'pino-pretty';

/**
 * Structured logs, one JSON object per line on stdout (written directly, so Lambda and ECS pass them through
 * unchanged, and EMF lines become metrics); readable lines instead on a person's terminal (`npm start`). Bindings
 * such as tenant, connectorId, callId and roomId travel with child loggers.
 */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Record<string, unknown>;

/** Keys whose values are secrets: never written, at whatever depth they sit. */
const SECRET_KEY = /token|secret|authorization|password|webhookkey|signature|^ref$/i;
/** Secrets inside strings: a bearer token, a secret-named query parameter (`?token=`, `&ref=`) of a logged URL. */
const BEARER = /\b(Bearer\s+)[^\s,;"]+/gi;
const QUERY_PARAM = /([?&])([^=&\s#]+)=([^&\s#"]*)/g;
/** What a string must hold for either of those to match: most logged strings (ids, names, messages) hold neither. */
const MAY_HOLD_SECRET = /[?&][^=&\s#]+=|bearer/i;
/** Deeper than any record this code logs: only a pathological value gets this far. */
const MAX_DEPTH = 10;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(bindings: LogFields): Logger;
  /** Writes a line another process already wrote as a log record (`npm start`'s media servers). */
  forward(line: string): void;
}

/** Receives each record as one line of JSON, without its newline. */
export type LogSink = (line: string) => void;

/** Lambda and ECS set these: there the logs are read by CloudWatch (EMF lines are metrics), never by a terminal. */
export const inAws = (env: NodeJS.ProcessEnv = process.env): boolean => Boolean(env.AWS_EXECUTION_ENV || env.AWS_LAMBDA_FUNCTION_NAME || env.ECS_CONTAINER_METADATA_URI_V4);

/** Writes to `out`: readable lines when it is a terminal outside AWS, the JSON lines as they are otherwise. */
export function streamSink(out: NodeJS.WritableStream & { readonly isTTY?: boolean; hasColors?(): boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): LogSink {
  if (!out.isTTY || inAws(env)) return (line) => void out.write(line + '\n');
  // Loaded for a person's terminal only: a Lambda or a media server in AWS never spends its start on it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { prettyFactory } = require('pino-pretty') as typeof PinoPretty;
  const readable = prettyFactory({ colorize: out.hasColors?.() ?? false, translateTime: 'HH:MM:ss.l', ignore: 'service', messageFormat: '{if service}{service}: {end}{msg}' });
  return (line) => void out.write(readable(line));
}

function scrub(text: string): string {
  if (!MAY_HOLD_SECRET.test(text)) return text;
  return text.replace(BEARER, '$1[redacted]').replace(QUERY_PARAM, (whole, sep: string, name: string) => (SECRET_KEY.test(name) ? `${sep}${name}=[redacted]` : whole));
}

/**
 * A copy of `value` that JSON can always write: secrets redacted, BigInts as strings, errors with their `cause` chain
 * and the AWS SDK's `$metadata` (request id, status), cycles and throwing getters named instead of followed.
 */
function clean(value: unknown, depth = 0, ancestors = new Set<object>()): unknown {
  if (typeof value === 'string') return scrub(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (typeof value !== 'object' || value === null) return value;
  if (ancestors.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Too deep]';
  ancestors.add(value);
  try {
    if (ArrayBuffer.isView(value)) return `[${value.constructor.name} of ${value.byteLength} bytes]`;
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    if (Array.isArray(value)) return value.map((item: unknown) => clean(item, depth + 1, ancestors));
    const out: LogFields = {};
    if (value instanceof Error) {
      out.name = value.name;
      out.message = clean(value.message, depth + 1, ancestors);
      out.stack = clean(value.stack, depth + 1, ancestors);
      if ('cause' in value) out.cause = clean(value.cause, depth + 1, ancestors);
    }
    for (const key of Object.keys(value)) {
      // The SDK's raw HTTP response: headers and a body stream, nothing $metadata lacks.
      if (key === '$response') continue;
      out[key] = SECRET_KEY.test(key) ? '[redacted]' : cleanProperty(value, key, depth, ancestors);
    }
    return out;
  } catch {
    return '[Unreadable]';
  } finally {
    ancestors.delete(value);
  }
}

function cleanProperty(owner: object, key: string, depth: number, ancestors: Set<object>): unknown {
  try {
    return clean((owner as LogFields)[key], depth + 1, ancestors);
  } catch {
    return '[Unreadable]';
  }
}

/** Fields that cannot even be listed (a hostile proxy) are named under `fields`, never spread. */
function cleanFields(fields: LogFields): LogFields {
  const cleaned = clean(fields);
  return typeof cleaned === 'object' && cleaned !== null ? (cleaned as LogFields) : { fields: cleaned };
}

function wrap(logger: pino.Logger, bindings: LogFields, sink: LogSink): Logger {
  const write =
    (level: LogLevel) =>
    (msg: string, fields?: LogFields): void => {
      if (!logger.isLevelEnabled(level)) return;
      const time = new Date().toISOString();
      try {
        // The message right after the level and before every field, as the lines have always read.
        logger[level]({ msg, time, ...bindings, ...(fields && cleanFields(fields)) });
      } catch (err) {
        // Logging never takes a request or a call down with it: the event is still told, without its fields.
        try {
          sink(JSON.stringify({ level, msg, time, logFailure: String(err) }));
        } catch {
          /* nowhere left to write */
        }
      }
    };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (more) => wrap(logger, { ...bindings, ...cleanFields(more) }, sink),
    forward: (line) => sink(line),
  };
}

export function createLogger(level: LogLevel = 'info', bindings: LogFields = {}, sink: LogSink = streamSink()): Logger {
  const root = pino(
    {
      level,
      base: null,
      timestamp: false,
      formatters: { level: (label) => ({ level: label }) },
      // Values arrive cleaned, errors included: pino's own error serialiser would fold their causes into one message.
      serializers: { err: (value: unknown) => value },
    },
    { write: (line: string) => sink(line.endsWith('\n') ? line.slice(0, -1) : line) },
  );
  return wrap(root, cleanFields(bindings), sink);
}
