/**
 * ApiVersions (key 18), versions 0-4, flexible from 3.
 *
 * The response always travels with response header v0, even in flexible versions (KIP-511), so a
 * client that does not yet know our versions can read it.
 */
import { array, field, message } from '../schema.js';

export const apiVersionsRequest = message({
  name: 'ApiVersions',
  apiKey: 18,
  type: 'request',
  validVersions: '0-4',
  flexibleVersions: '3+',
  fields: [
    field('clientSoftwareName', 'string', { versions: '3+' }),
    field('clientSoftwareVersion', 'string', { versions: '3+' }),
  ],
});

export const apiVersionsResponse = message({
  name: 'ApiVersions',
  apiKey: 18,
  type: 'response',
  validVersions: '0-4',
  flexibleVersions: '3+',
  fields: [
    field('errorCode', 'int16'),
    array('apiKeys', [field('apiKey', 'int16'), field('minVersion', 'int16'), field('maxVersion', 'int16')]),
    field('throttleTimeMs', 'int32', { versions: '1+', default: 0 }),
    array('supportedFeatures', [field('name', 'string'), field('minVersion', 'int16'), field('maxVersion', 'int16')], {
      versions: '3+',
      tag: 0,
      taggedVersions: '3+',
    }),
    field('finalizedFeaturesEpoch', 'int64', { versions: '3+', tag: 1, taggedVersions: '3+', default: -1 }),
    array('finalizedFeatures', [field('name', 'string'), field('maxVersionLevel', 'int16'), field('minVersionLevel', 'int16')], {
      versions: '3+',
      tag: 2,
      taggedVersions: '3+',
    }),
    field('zkMigrationReady', 'bool', { versions: '3+', tag: 3, taggedVersions: '3+', default: false }),
  ],
});
