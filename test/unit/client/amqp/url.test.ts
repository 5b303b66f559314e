import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAmqpUrl } from '../../../../src/client/amqp/url.js';

test('amqp URLs: defaults, credentials, vhost decoding, query parameters', () => {
  assert.deepEqual(parseAmqpUrl('amqp://localhost'), { host: 'localhost', port: 5672, user: 'guest', password: 'guest', vhost: '/', heartbeatSeconds: 0, frameMaxBytes: 131072 });
  assert.deepEqual(parseAmqpUrl('amqp://alice:s%40cret@10.0.0.1:5673/%2f?heartbeat=10&frame_max=8192'), { host: '10.0.0.1', port: 5673, user: 'alice', password: 's@cret', vhost: '/', heartbeatSeconds: 10, frameMaxBytes: 8192 });
  assert.equal(parseAmqpUrl('amqp://h/prod').vhost, 'prod');
  assert.equal(parseAmqpUrl('amqp://[::1]:5672/').host, '::1');
  assert.throws(() => parseAmqpUrl('amqps://h/'), /only amqp:\/\//);
  assert.throws(() => parseAmqpUrl('not a url'), /not a URL/);
  assert.throws(() => parseAmqpUrl('amqp://h/?frame_max=100'), /frame_max=100/);
});
