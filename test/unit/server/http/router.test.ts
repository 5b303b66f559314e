/**
 * The admin API's router: literal and captured segments, percent-decoding after the split (a vhost
 * "/" travels as %2F), the trailing slash, 405 with the methods the path takes, 404, bad encoding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router, splitPath } from '../../../../src/server/http/router.js';
import type { RouteMatch } from '../../../../src/server/http/router.js';

const router = new Router()
  .add('GET', '/api/queues', () => ({ status: 200, body: 'all' }))
  .add('GET', '/api/queues/:vhost/:name', () => ({ status: 200, body: 'one' }))
  .add('PUT', '/api/queues/:vhost/:name', () => ({ status: 201 }))
  .add('DELETE', '/api/queues/:vhost/:name/contents', () => ({ status: 204 }));

function params(match: RouteMatch): Readonly<Record<string, string>> {
  assert.equal(match.kind, 'found');
  return match.kind === 'found' ? match.params : {};
}

test('segments are split before they are decoded, so %2F stays inside a name', () => {
  assert.deepEqual(splitPath('/api/queues/%2F/orders'), ['api', 'queues', '/', 'orders']);
  assert.deepEqual(params(router.match('GET', '/api/queues/%2F/orders')), { vhost: '/', name: 'orders' });
  assert.deepEqual(params(router.match('GET', '/api/queues/my%20host/a%2Fb%25c')), { vhost: 'my host', name: 'a/b%c' });
  assert.deepEqual(params(router.match('DELETE', '/api/queues/%2F/orders/contents')), { vhost: '/', name: 'orders' });
});

test('a trailing slash is ignored; an empty capture does not match', () => {
  assert.equal(router.match('GET', '/api/queues/').kind, 'found');
  assert.deepEqual(params(router.match('GET', '/api/queues/%2F/orders/')), { vhost: '/', name: 'orders' });
  assert.equal(router.match('GET', '/api/queues//orders').kind, 'notFound');
});

test('the handler of the matching method is chosen', async () => {
  const match = router.match('PUT', '/api/queues/v/q');
  assert.equal(match.kind, 'found');
  if (match.kind === 'found') assert.deepEqual(await match.handler({ params: match.params, query: new URLSearchParams(), body: undefined }), { status: 201 });
  const get = router.match('GET', '/api/queues');
  if (get.kind === 'found') assert.deepEqual(await get.handler({ params: {}, query: new URLSearchParams(), body: undefined }), { status: 200, body: 'all' });
  else assert.fail('GET /api/queues not found');
});

test('a known path with another method lists the allowed ones; unknown paths and bad encoding are told apart', () => {
  assert.deepEqual(router.match('POST', '/api/queues/v/q'), { kind: 'wrongMethod', allowed: ['GET', 'PUT'] });
  assert.deepEqual(router.match('GET', '/api/queues/v/q/contents'), { kind: 'wrongMethod', allowed: ['DELETE'] });
  assert.deepEqual(router.match('GET', '/api/queue'), { kind: 'notFound' });
  assert.deepEqual(router.match('GET', '/api/queues/v/q/x/y'), { kind: 'notFound' });
  assert.equal(router.match('GET', '/api/queues/%E0%A4%A/q').kind, 'badPath');
  assert.throws(() => new Router().add('GET', 'api', () => ({ status: 200 })), /must start with '\/'/);
});
