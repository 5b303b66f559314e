/**
 * One-line structured logs to stderr: `2026-11-22T23:59:01.123Z INFO message key=value …`.
 * Levels below the configured one cost a comparison and nothing else.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | bigint | boolean | null | undefined>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds these fields to every line. */
  with(fields: LogFields): Logger;
}

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function formatValue(value: string | number | bigint | boolean | null): string {
  const text = String(value);
  return /[\s"=]/.test(text) ? JSON.stringify(text) : text;
}

export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stderr.write(line), context: LogFields = {}): Logger {
  const threshold = levelRank[level];
  const emit = (at: LogLevel, message: string, fields?: LogFields) => {
    if (levelRank[at] < threshold) return;
    let line = `${new Date().toISOString()} ${at.toUpperCase()} ${message}`;
    for (const source of [context, fields]) {
      if (source === undefined) continue;
      for (const key of Object.keys(source)) {
        const value = source[key];
        if (value !== undefined) line += ` ${key}=${formatValue(value)}`;
      }
    }
    write(line + '\n');
  };
  return {
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
    with: (fields) => createLogger(level, write, { ...context, ...fields }),
  };
}
