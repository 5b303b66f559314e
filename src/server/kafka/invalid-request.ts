/**
 * The debug line that says what made a request INVALID_REQUEST. A client sees only the error code
 * (and, in some APIs, a message); the operator finds the API, the field (as Kafka's message
 * definitions name it) and the reason in the broker's log at debug level, once per request:
 *
 *   DEBUG invalid request api=CreateTopics field=Name reason="topic 'orders' appears more than once in the request" refused=2
 *
 * Handlers that answer one error write the line themselves (`context.logger.debug('invalid request',
 * { api, field, reason })`); handlers that answer per entry (topics, partitions) collect with an
 * InvalidRequestNotes and write it once the whole answer is known (`refused` counts the entries
 * refused with INVALID_REQUEST when more than one was); the config handlers do the same per
 * resource (config-resources.ts, noteInvalidRequest).
 */
import type { Logger } from '../../logging/logger.js';
import { ErrorCode } from '../../protocol/kafka/error-codes.js';

export class InvalidRequestNotes {
  private first: { readonly field: string; readonly reason: string } | null = null;
  private refused = 0;

  constructor(private readonly api: string) {}

  /** Notes `result` when it is INVALID_REQUEST (caused by `field`); returns it unchanged. */
  check<Result extends { readonly errorCode: number; readonly errorMessage: string | null }>(field: string, result: Result): Result {
    if (result.errorCode === ErrorCode.invalidRequest) this.note(field, result.errorMessage ?? '');
    return result;
  }

  note(field: string, reason: string): void {
    this.refused++;
    this.first ??= { field, reason };
  }

  /** The debug line for the request, if any entry was refused; at most once. */
  write(logger: Logger): void {
    if (this.first === null) return;
    logger.debug('invalid request', { api: this.api, field: this.first.field, reason: this.first.reason, ...(this.refused > 1 ? { refused: this.refused } : {}) });
    this.first = null;
  }
}
