/** A made-up message using the schema features no real declaration uses yet (codegen-features.test.ts). */
import { array, field, message, struct } from '../../../src/protocol/kafka/schema.js';

export const sampleRequest = message({
  name: 'Sample',
  apiKey: 9999,
  type: 'request',
  validVersions: '0-3',
  flexibleVersions: '2+',
  fields: [
    field('note', 'string', { tag: 0, taggedVersions: '2+', default: '' }),
    field('label', 'string', { nullable: '0+', default: 'none' }),
    struct('leader', [field('id', 'int32'), field('epoch', 'int32', { default: -1 })], { versions: '1+', nullable: '1+', default: null }),
    struct('extra', [
      field('weight', 'int16', { default: 0 }),
      array('names', 'string', { versions: '3+', tag: 7, taggedVersions: '3+' }),
    ], { versions: '2+', tag: 1, taggedVersions: '2+' }),
  ],
});
