/**
 * SaslHandshake (key 17), versions 0-1, never flexible.
 *
 * v0 is followed by raw SASL tokens on the socket; v1 by SaslAuthenticate requests.
 */
import { array, field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const saslHandshakeRequest = message({
  name: 'SaslHandshake',
  apiKey: 17,
  type: 'request',
  validVersions: '0-1',
  flexibleVersions: 'none',
  fields: [
    field('mechanism', 'string'),
  ],
});

export const saslHandshakeResponse = message({
  name: 'SaslHandshake',
  apiKey: 17,
  type: 'response',
  validVersions: '0-1',
  flexibleVersions: 'none',
  fields: [
    field('errorCode', 'int16'),
    array('mechanisms', 'string'),
  ],
});

/** A request as the broker's handler receives it. */
export type SaslHandshakeRequest = Decoded<typeof saslHandshakeRequest>;
/** A response as the broker's handler builds it. */
export type SaslHandshakeResponse = Encodable<typeof saslHandshakeResponse>;
/** A request as a client builds it. */
export type SaslHandshakeRequestEncodable = Encodable<typeof saslHandshakeRequest>;
/** A response as a client receives it. */
export type SaslHandshakeResponseDecoded = Decoded<typeof saslHandshakeResponse>;
