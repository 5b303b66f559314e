/**
 * A test hook, off unless the environment asks for it: `OSPREY_TEST_FAULT_API=<API name>` (as
 * ApiVersions lists it, e.g. `Metadata`) makes every request of that API throw an unexpected error
 * after it is decoded, where no handler catches it. Integration tests use it to show that such a bug
 * is contained to its connection (test/integration/connection-limits.test.ts). The broker logs a
 * warning at start-up when it is set; never set it in production.
 */
export const faultHookVariable = 'OSPREY_TEST_FAULT_API';

export class InjectedFaultError extends Error {
  constructor(apiName: string) {
    super(`fault injected in ${apiName} by ${faultHookVariable}`);
    this.name = 'InjectedFaultError';
  }
}

/** The API the hook is set for, or null (the normal case). */
export function faultInjectedApi(env: NodeJS.ProcessEnv = process.env): string | null {
  const value = env[faultHookVariable];
  return value === undefined || value === '' ? null : value;
}
