/**
 * Value types: how a setting is read from text (flags, environment) and from YAML, what help shows
 * after its flag and what an error message says was expected. settings-table.ts gives each setting
 * one of these.
 */
import { isIP } from 'node:net';

export interface ValueType<T> {
  /** Shown after the flag in help: PORT, BYTES, MS, true|false … */
  readonly placeholder: string;
  /** Completes "expected …" in error messages. */
  readonly expected: string;
  readonly kind: 'integer' | 'boolean' | 'choice' | 'text';
  parseText(text: string): T | undefined;
  parseYaml(value: unknown): T | undefined;
}

export const maxInt32 = 2 ** 31 - 1;
/** setTimeout fires at once for delays beyond 2^31-1 ms, so every timer setting stops there. */
export const maxTimerMs = maxInt32;
const unbounded = Number.MAX_SAFE_INTEGER;

export function integer(min: number, max: number, placeholder: string): ValueType<number> {
  const bounds = max === unbounded ? `>= ${min}` : min < 0 ? `from ${min} to ${max}` : `${min}-${max}`;
  const accept = (candidate: number): number | undefined =>
    Number.isSafeInteger(candidate) && candidate >= min && candidate <= max ? candidate + 0 : undefined;
  return {
    placeholder,
    expected: `an integer ${bounds}`,
    kind: 'integer',
    parseText: (text) => (/^-?[0-9]+$/.test(text) ? accept(Number(text)) : undefined),
    parseYaml: (value) => (typeof value === 'number' ? accept(value) : undefined),
  };
}

const booleanWords = new Map<string, boolean>([
  ['true', true], ['false', false], ['1', true], ['0', false],
  ['yes', true], ['no', false], ['on', true], ['off', false],
]);

export const boolean: ValueType<boolean> = {
  placeholder: 'true|false',
  expected: 'true or false',
  kind: 'boolean',
  parseText: (text) => booleanWords.get(text.toLowerCase()),
  parseYaml: (value) => (typeof value === 'boolean' ? value : undefined),
};

export function oneOf<const Choice extends string>(choices: readonly Choice[]): ValueType<Choice> {
  const accept = (value: unknown): Choice | undefined => choices.find((choice) => choice === value);
  return {
    placeholder: choices.join('|'),
    expected: `one of ${choices.join(', ')}`,
    kind: 'choice',
    parseText: accept,
    parseYaml: accept,
  };
}

function text(placeholder: string, expected: string, accept: (value: string) => boolean): ValueType<string> {
  const check = (value: unknown): string | undefined => (typeof value === 'string' && accept(value) ? value : undefined);
  return { placeholder, expected, kind: 'text', parseText: check, parseYaml: check };
}

const hostName = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const isHost = (value: string): boolean => isIP(value) !== 0 || hostName.test(value);
export const host = text('HOST', 'an IP address or host name', isHost);
export const optionalHost = text('HOST', 'an IP address or host name, or empty', (value) => value === '' || isHost(value));
export const path = text('DIR', 'a non-empty path', (value) => value.length > 0);
export const rackName = text('RACK', 'letters, digits, ., :, - and _ only, at most 255 (or empty)', (value) => /^[A-Za-z0-9.:_-]{0,255}$/.test(value));

/** `http://HOST:PORT` with nothing after the port: what an etcd client URL looks like. */
function isEtcdUrl(value: string): boolean {
  const match = /^http:\/\/(\[[0-9A-Fa-f:.]+\]|[^/:\s]+):([0-9]{1,5})$/.exec(value);
  if (match === null) return false;
  const [, hostPart = '', port = ''] = match;
  const bare = hostPart.startsWith('[') ? hostPart.slice(1, -1) : hostPart;
  return isHost(bare) && Number(port) >= 1 && Number(port) <= 65535;
}
export const etcdEndpointList = text('URL[,URL…]', 'http://HOST:PORT, several separated by commas (or empty)', (value) => value === '' || value.split(',').every((url) => isEtcdUrl(url.trim())));

export const identifier = text('ID', 'letters, digits, - and _ only (or empty)', (value) => /^[A-Za-z0-9_-]*$/.test(value));

export const milliseconds = (min: number, max: number = unbounded): ValueType<number> => integer(min, max, 'MS');
export const bytes = (min: number, max: number = unbounded): ValueType<number> => integer(min, max, 'BYTES');
export const count = (min: number, max: number = unbounded): ValueType<number> => integer(min, max, 'N');
