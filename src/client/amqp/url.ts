/**
 * `amqp://user:password@host:port/vhost` → connection settings. As RabbitMQ's URI spec says: the
 * user and password default to guest/guest, the port to 5672, and the vhost is the path with its
 * leading slash removed and percent-decoded ("/" when the path is empty; "%2f" spells "/" itself).
 * `heartbeat` and `frame_max` may be given as query parameters. amqps is refused (no TLS here).
 */

export interface AmqpConnectionSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly vhost: string;
  /** Seconds; 0 turns heartbeats off. */
  readonly heartbeatSeconds: number;
  /** The largest frame we accept, header and frame-end included; the broker may lower it. */
  readonly frameMaxBytes: number;
}

export const defaultAmqpPort = 5672;
export const defaultFrameMaxBytes = 131_072;

export function parseAmqpUrl(text: string): AmqpConnectionSettings {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RangeError(`not a URL: ${text}`);
  }
  if (url.protocol !== 'amqp:') throw new RangeError(`${text}: only amqp:// is supported (no TLS)`);
  if (url.hostname === '') throw new RangeError(`${text}: no host`);
  const path = url.pathname.replace(/^\//, '');
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? defaultAmqpPort : Number(url.port),
    user: url.username === '' ? 'guest' : decodeURIComponent(url.username),
    password: url.password === '' && url.username === '' ? 'guest' : decodeURIComponent(url.password),
    vhost: path === '' ? '/' : decodeURIComponent(path),
    heartbeatSeconds: integerParameter(url, 'heartbeat', 0, 65_535) ?? 0,
    frameMaxBytes: integerParameter(url, 'frame_max', 4096, 2 ** 31) ?? defaultFrameMaxBytes,
  };
}

function integerParameter(url: URL, name: string, min: number, max: number): number | undefined {
  const value = url.searchParams.get(name);
  if (value === null) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min || number > max) throw new RangeError(`${name}=${value}: an integer from ${min} to ${max}`);
  return number;
}
