/**
 * The decisions of an AMQP 0-9-1 connection's handshake, as pure functions (connection.ts sends
 * and receives the methods):
 *
 *   client                                  broker
 *   "AMQP" 0 0 9 1            ───────────▶
 *                             ◀───────────  connection.start     (0-9, server-properties, "PLAIN AMQPLAIN", "en_US")
 *   connection.start-ok       ───────────▶                       (client-properties, mechanism, response)
 *                             ◀───────────  connection.tune      (channel_max, frame_max, heartbeat)
 *   connection.tune-ok        ───────────▶                       (values ≤ ours; 0 = "no limit from me")
 *   connection.open           ───────────▶                       (virtual host)
 *                             ◀───────────  connection.open-ok
 *
 * Login: the only user is guest/guest, and only from a loopback address (RabbitMQ's default
 * `loopback_users`); in a cluster, other brokers of the cluster also log in, as `osprey-inter-broker`
 * with the cluster's secret (cluster/inter-broker-secret.ts), from any address. PLAIN's response is "\0user\0password" (authorisation identity, user,
 * password); AMQPLAIN's is a field table's entries (LOGIN and PASSWORD long strings) without the
 * table's 4-byte length, as amqplib and RabbitMQ write it.
 */
import { packageVersion } from '../../version.js';
import { timingSafeEqual } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { AmqpSettings } from '../../config/broker-config.js';
import type { AmqpMethod } from '../../protocol/amqp/method-payload.js';
import { readFieldTable } from '../../protocol/amqp/field-table.js';
import type { FieldTable, FieldValue } from '../../protocol/amqp/field-table.js';
import { minimumFrameMaxBytes } from '../../protocol/amqp/frame-reader.js';
import { replyCodes } from '../../protocol/amqp/reply-codes.js';
import { Reader } from '../../protocol/wire/reader.js';
import { AmqpConnectionError } from './errors.js';

export const supportedMechanisms = ['PLAIN', 'AMQPLAIN'] as const;

/** What the broker advertises in server-properties.capabilities; the sessions implement each. */
export const advertisedCapabilities = [
  'publisher_confirms',
  'exchange_exchange_bindings',
  'basic.nack',
  'consumer_cancel_notify',
  'connection.blocked',
  'per_consumer_qos',
  'authentication_failure_close',
] as const;

const longString = (text: string): FieldValue => ({ type: 'longString', value: Buffer.from(text, 'utf8') });

export function connectionStartMethod(): AmqpMethod {
  const capabilities: FieldTable = new Map(advertisedCapabilities.map((name) => [name, { type: 'boolean', value: true } as const]));
  const serverProperties: FieldTable = new Map<string, FieldValue>([
    ['product', longString('Osprey')],
    ['version', longString(brokerVersion)],
    ['platform', longString(`Node.js ${process.version}`)],
    ['information', longString('Osprey message broker')],
    ['capabilities', { type: 'table', value: capabilities }],
  ]);
  return {
    name: 'connection.start',
    arguments: {
      versionMajor: 0,
      versionMinor: 9,
      serverProperties,
      mechanisms: Buffer.from(supportedMechanisms.join(' ')),
      locales: Buffer.from('en_US'),
    },
  };
}

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** The user and password of a start-ok response; throws 403 for an unknown mechanism or an unreadable response. */
export function readCredentials(mechanism: string, response: Buffer): Credentials {
  if (mechanism === 'PLAIN') {
    const parts = response.toString('utf8').split('\0');
    if (parts.length !== 3) throw accessRefused(mechanism);
    return { user: parts[1] ?? '', password: parts[2] ?? '' };
  }
  if (mechanism === 'AMQPLAIN') {
    const sized = Buffer.allocUnsafe(4 + response.length);
    sized.writeUInt32BE(response.length, 0);
    response.copy(sized, 4);
    let table: FieldTable;
    try {
      table = readFieldTable(new Reader(sized));
    } catch {
      throw accessRefused(mechanism);
    }
    return { user: textOf(table.get('LOGIN')), password: textOf(table.get('PASSWORD')) };
  }
  throw new AmqpConnectionError(replyCodes.accessRefused, `ACCESS_REFUSED - unsupported authentication mechanism '${mechanism}'; supported: ${supportedMechanisms.join(', ')}`);
}

function textOf(value: FieldValue | undefined): string {
  return value !== undefined && (value.type === 'longString' || value.type === 'bytes') ? value.value.toString('utf8') : '';
}

/** The password other brokers of the cluster log in with; null for a single broker (or before it joined), when none can. */
export interface InterBrokerLogin {
  secret: string | null;
}

/** The user brokers log in as on each other's AMQP listeners (with InterBrokerLogin's secret). */
export const interBrokerUser = 'osprey-inter-broker';

/**
 * Who logged in: a client (guest/guest from a loopback peer) or, in a cluster, another broker of it.
 * Throws 403 for anyone else.
 */
export function authenticate(mechanism: string, credentials: Credentials, remoteAddress: string, interBroker: InterBrokerLogin = { secret: null }): 'client' | 'inter-broker' {
  if (credentials.user === 'guest' && credentials.password === 'guest' && isLoopback(remoteAddress)) return 'client';
  if (credentials.user === interBrokerUser && interBroker.secret !== null && sameSecret(credentials.password, interBroker.secret)) return 'inter-broker';
  throw accessRefused(mechanism);
}

/** Compared in constant time, so a wrong guess says nothing of how close it came. */
function sameSecret(given: string, secret: string): boolean {
  const givenBytes = Buffer.from(given, 'utf8');
  const secretBytes = Buffer.from(secret, 'utf8');
  return givenBytes.length === secretBytes.length && timingSafeEqual(givenBytes, secretBytes);
}

/** RabbitMQ's text, which clients and people searching for it know. */
function accessRefused(mechanism: string): AmqpConnectionError {
  return new AmqpConnectionError(replyCodes.accessRefused, `ACCESS_REFUSED - Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`);
}

/** 127.0.0.0/8, ::1 and IPv4-mapped 127.x. */
export function isLoopback(address: string): boolean {
  const unmapped = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
  if (isIPv4(unmapped)) return unmapped.startsWith('127.');
  return unmapped === '::1';
}

export function connectionTuneMethod(settings: AmqpSettings): AmqpMethod {
  return { name: 'connection.tune', arguments: { channelMax: settings.channelMax, frameMax: settings.frameMaxBytes, heartbeat: settings.heartbeatSeconds } };
}

export interface Tuning {
  readonly channelMax: number;
  readonly frameMaxBytes: number;
  /** 0: no heartbeats. */
  readonly heartbeatSeconds: number;
}

/**
 * What tune-ok settles. A client value of 0 leaves ours; a value above ours, or a frame_max below
 * the 4096 minimum, closes the connection with 530 NOT_ALLOWED in RabbitMQ's words. The heartbeat
 * is the client's choice (0 turns heartbeats off), as with RabbitMQ.
 */
export function negotiateTuning(settings: AmqpSettings, tuneOk: { readonly channelMax: number; readonly frameMax: number; readonly heartbeat: number }): Tuning {
  const channelMax = negotiated('channel_max', tuneOk.channelMax, 1, settings.channelMax);
  const frameMaxBytes = negotiated('frame_max', tuneOk.frameMax, minimumFrameMaxBytes, settings.frameMaxBytes);
  return { channelMax, frameMaxBytes, heartbeatSeconds: tuneOk.heartbeat };
}

function negotiated(field: string, clientValue: number, minimum: number, maximum: number): number {
  if (clientValue === 0) return maximum;
  if (clientValue < minimum) {
    throw new AmqpConnectionError(replyCodes.notAllowed, `NOT_ALLOWED - negotiated ${field} = ${clientValue} is lower than the minimum allowed value (${minimum})`);
  }
  if (clientValue > maximum) {
    throw new AmqpConnectionError(replyCodes.notAllowed, `NOT_ALLOWED - negotiated ${field} = ${clientValue} is higher than the maximum allowed value (${maximum})`);
  }
  return clientValue;
}

/** Whether the client said, in client-properties.capabilities, that it understands `name` (connection.blocked, consumer_cancel_notify, …). */
export function hasClientCapability(clientProperties: FieldTable, name: string): boolean {
  const capabilities = clientProperties.get('capabilities');
  if (capabilities?.type !== 'table') return false;
  const value = capabilities.value.get(name);
  return value?.type === 'boolean' && value.value;
}


const brokerVersion = packageVersion();
