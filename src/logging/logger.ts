/**
 * One-line structured logs to stderr: `2026-11-22T23:59:01.123Z INFO message key=value …`.
 * Levels below the configured one cost a comparison and nothing else.
 *
 * Values (and messages) often carry what clients sent (client ids, topic names, error texts), so
 * every control character, format character (bidi overrides…) and other non-printable is written
 * escaped (`\x1b`, `\u202e`): a client cannot forge log lines or drive a terminal. A value holding
 * spaces, quotes, `=` or backslashes is quoted.
 *
 * With a rate limit, each message (the same text, whatever its fields) writes at most `linesPerMessage`
 * lines per window; the rest are counted, and when the window ends one line says how many were
 * suppressed. So a flood of bad connections costs a few lines, not one per connection.
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

export interface LogRateLimit {
  readonly linesPerMessage: number;
  readonly windowMs: number;
}

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Control (Cc), format (Cf), unassigned, private-use and surrogate code points, and separators other than a plain space. */
const unprintable = /[\p{C}\p{Zl}\p{Zp}]|[^\S ]/gu;

function escapeCharacter(character: string): string {
  const codePoint = character.codePointAt(0)!;
  if (character === '\n') return '\\n';
  if (character === '\r') return '\\r';
  if (character === '\t') return '\\t';
  if (codePoint <= 0xff) return `\\x${codePoint.toString(16).padStart(2, '0')}`;
  return `\\u{${codePoint.toString(16)}}`;
}

/** The text with every non-printable character escaped (backslashes doubled first, so escapes stay readable). */
function escapeLogText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(unprintable, escapeCharacter);
}

export function formatLogValue(value: string | number | bigint | boolean | null): string {
  const text = String(value);
  const escaped = escapeLogText(text);
  return /[ "=\\]/.test(escaped) || escaped.length === 0 ? `"${escaped.replace(/"/g, '\\"')}"` : escaped;
}

/** Per-message budgets of one logger and all its `with` children. */
class LineBudget {
  private readonly windows = new Map<string, { startedAtMs: number; lines: number; suppressed: number }>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limit: LogRateLimit,
    private readonly reportSuppressed: (key: string, count: number) => void,
  ) {}

  /** True if a line of this message may be written now; otherwise it is counted as suppressed. */
  allow(key: string): boolean {
    const nowMs = Date.now();
    let window = this.windows.get(key);
    if (window !== undefined && nowMs - window.startedAtMs >= this.limit.windowMs) {
      this.close(key, window);
      window = undefined;
    }
    if (window === undefined) {
      window = { startedAtMs: nowMs, lines: 0, suppressed: 0 };
      this.windows.set(key, window);
    }
    if (window.lines < this.limit.linesPerMessage) {
      window.lines++;
      return true;
    }
    window.suppressed++;
    this.scheduleFlush();
    return false;
  }

  private close(key: string, window: { suppressed: number }): void {
    this.windows.delete(key);
    if (window.suppressed > 0) this.reportSuppressed(key, window.suppressed);
  }

  /** Reports suppressed lines of ended windows even if the message is never logged again. */
  private scheduleFlush(): void {
    if (this.flushTimer !== undefined) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      const nowMs = Date.now();
      for (const [key, window] of [...this.windows]) {
        if (nowMs - window.startedAtMs >= this.limit.windowMs) this.close(key, window);
      }
      if ([...this.windows.values()].some((window) => window.suppressed > 0)) this.scheduleFlush();
    }, this.limit.windowMs);
    this.flushTimer.unref();
  }
}

export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => process.stderr.write(line),
  context: LogFields = {},
  rateLimit?: LogRateLimit,
): Logger {
  const threshold = levelRank[level];
  const format = (at: LogLevel, message: string, sources: readonly (LogFields | undefined)[]): string => {
    let line = `${new Date().toISOString()} ${at.toUpperCase()} ${escapeLogText(message)}`;
    for (const source of sources) {
      if (source === undefined) continue;
      for (const key of Object.keys(source)) {
        const value = source[key];
        if (value !== undefined) line += ` ${key}=${formatLogValue(value)}`;
      }
    }
    return line + '\n';
  };
  const budget =
    rateLimit === undefined
      ? undefined
      : new LineBudget(rateLimit, (key, count) => {
          const [at, message] = splitBudgetKey(key);
          write(format(at, 'similar lines suppressed', [{ count, message, windowMs: rateLimit.windowMs }]));
        });
  return loggerWith(threshold, (at, message, fields, lineContext) => {
    if (budget !== undefined && !budget.allow(`${at} ${message}`)) return;
    write(format(at, message, [lineContext, fields]));
  }, context);
}

function splitBudgetKey(key: string): [LogLevel, string] {
  const space = key.indexOf(' ');
  return [key.slice(0, space) as LogLevel, key.slice(space + 1)];
}

type Emit = (at: LogLevel, message: string, fields: LogFields | undefined, context: LogFields) => void;

function loggerWith(threshold: number, emit: Emit, context: LogFields): Logger {
  const at = (level: LogLevel) => (message: string, fields?: LogFields) => {
    if (levelRank[level] >= threshold) emit(level, message, fields, context);
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    with: (fields) => loggerWith(threshold, emit, { ...context, ...fields }),
  };
}
