/**
 * SaslAuthenticate (key 36), versions 0-2, flexible from 2.
 *
 * v1 adds sessionLifetimeMs to the response (KIP-368); v2 flexible.
 */
import { field, message } from '../schema.js';
import type { Decoded, Encodable } from '../schema.js';

export const saslAuthenticateRequest = message({
  name: 'SaslAuthenticate',
  apiKey: 36,
  type: 'request',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    field('authBytes', 'bytes'),
  ],
});

export const saslAuthenticateResponse = message({
  name: 'SaslAuthenticate',
  apiKey: 36,
  type: 'response',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    field('errorCode', 'int16'),
    field('errorMessage', 'string', { nullable: '0+' }),
    field('authBytes', 'bytes'),
    field('sessionLifetimeMs', 'int64', { versions: '1+', default: 0 }),
  ],
});

/** A request as the broker's handler receives it. */
export type SaslAuthenticateRequest = Decoded<typeof saslAuthenticateRequest>;
/** A response as the broker's handler builds it. */
export type SaslAuthenticateResponse = Encodable<typeof saslAuthenticateResponse>;
/** A request as a client builds it. */
export type SaslAuthenticateRequestEncodable = Encodable<typeof saslAuthenticateRequest>;
/** A response as a client receives it. */
export type SaslAuthenticateResponseDecoded = Decoded<typeof saslAuthenticateResponse>;
