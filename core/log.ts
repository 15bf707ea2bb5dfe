/**
 * Structured JSON logs, one line per event on stdout (written directly, so Lambda passes them through
 * unchanged). Bindings such as tenant, connectorId, callId and roomId travel with child loggers.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Keys whose values are secrets: never written, whatever logs them. */
const SECRET_KEY = /token|secret|authorization|password|webhookkey|signature|^ref$/i;

export function isLogLevel(value: string): value is LogLevel {
  return value in LEVELS;
}

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(bindings: LogFields): Logger;
  /** Writes a line another process already wrote as a log record (`npm start`'s media servers). */
  forward(line: string): void;
}

export type LogSink = (line: string) => void;

const stdoutSink: LogSink = (line) => {
  process.stdout.write(line + '\n');
};

function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    if (SECRET_KEY.test(key)) out[key] = '[redacted]';
    else if (value instanceof Error) out[key] = { name: value.name, message: value.message, stack: value.stack };
    else out[key] = value;
  }
  return out;
}

export function createLogger(level: LogLevel = 'info', bindings: LogFields = {}, sink: LogSink = stdoutSink): Logger {
  const threshold = LEVELS[level];
  const write = (lvl: LogLevel, msg: string, fields?: LogFields): void => {
    if (LEVELS[lvl] < threshold) return;
    const record = { time: new Date().toISOString(), level: lvl, msg, ...bindings, ...(fields && redact(fields)) };
    sink(JSON.stringify(record));
  };
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    child: (more) => createLogger(level, { ...bindings, ...redact(more) }, sink),
    forward: (line) => sink(line),
  };
}
