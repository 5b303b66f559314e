/**
 * The table of Kafka APIs this broker answers: one handler per API key. ApiVersions reads its
 * answer from here, so what we advertise is exactly what we handle.
 */
import type { ApiHandler, SupportedApi } from './handler.js';

export const apiVersionsKey = 18;
export const fetchKey = 1;

export class ApiRegistry {
  private readonly handlers = new Map<number, ApiHandler>();
  private supportedList: SupportedApi[] = [];

  constructor(handlers: readonly ApiHandler[]) {
    for (const handler of handlers) {
      if (this.handlers.has(handler.apiKey)) throw new Error(`two handlers for api key ${handler.apiKey}`);
      this.handlers.set(handler.apiKey, handler);
    }
    this.supportedList = [...this.handlers.values()]
      .sort((left, right) => left.apiKey - right.apiKey)
      .map((handler) => ({ apiKey: handler.apiKey, minVersion: handler.minVersion, maxVersion: handler.maxVersion }));
  }

  get(apiKey: number): ApiHandler | undefined {
    return this.handlers.get(apiKey);
  }

  get supported(): readonly SupportedApi[] {
    return this.supportedList;
  }
}
