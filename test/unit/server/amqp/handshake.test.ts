/**
 * The handshake's decisions: reading PLAIN and AMQPLAIN responses (AMQPLAIN as amqplib writes it,
 * the outside oracle), who may log in from where, and tune-ok negotiation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { defaultBrokerConfig } from '../../../../src/config/broker-config.js';
import { authenticate, interBrokerUser, isLoopback, negotiateTuning, readCredentials } from '../../../../src/server/amqp/handshake.js';
import { AmqpConnectionError } from '../../../../src/server/amqp/errors.js';

const settings = defaultBrokerConfig.amqp;

function refusal(code: number, text: RegExp): (error: unknown) => boolean {
  return (error) => error instanceof AmqpConnectionError && error.replyCode === code && text.test(error.replyText);
}

test('PLAIN and AMQPLAIN responses, as amqplib writes them, give the user and password', () => {
  const plain = amqp.credentials.plain('guest', 'sécret');
  assert.deepEqual(readCredentials(plain.mechanism, plain.response()), { user: 'guest', password: 'sécret' });
  const amqplain = amqp.credentials.amqplain('alice', 'pa\0ss');
  assert.equal(amqplain.mechanism, 'AMQPLAIN');
  assert.deepEqual(readCredentials(amqplain.mechanism, amqplain.response()), { user: 'alice', password: 'pa\0ss' });
});

test('unreadable responses and unknown mechanisms are 403', () => {
  assert.throws(() => readCredentials('PLAIN', Buffer.from('guest')), refusal(403, /authentication mechanism PLAIN/));
  assert.throws(() => readCredentials('AMQPLAIN', Buffer.from([5, 0x4c])), refusal(403, /authentication mechanism AMQPLAIN/));
  assert.throws(() => readCredentials('EXTERNAL', Buffer.alloc(0)), refusal(403, /unsupported authentication mechanism 'EXTERNAL'/));
});

test('guest/guest only, and only from loopback addresses', () => {
  for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) {
    assert.equal(isLoopback(address), true, address);
    assert.equal(authenticate('PLAIN', { user: 'guest', password: 'guest' }, address), 'client');
  }
  for (const address of ['10.0.0.1', '::ffff:10.0.0.1', '::2', '128.0.0.1', '']) {
    assert.equal(isLoopback(address), false, address);
    assert.throws(
      () => authenticate('PLAIN', { user: 'guest', password: 'guest' }, address),
      refusal(403, /^ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN\. For details see the broker logfile\.$/),
    );
  }
  assert.throws(() => authenticate('AMQPLAIN', { user: 'guest', password: 'nope' }, '127.0.0.1'), refusal(403, /mechanism AMQPLAIN/));
  assert.throws(() => authenticate('PLAIN', { user: 'admin', password: 'guest' }, '127.0.0.1'), refusal(403, /mechanism PLAIN/));
});

test('another broker logs in with the cluster secret from any address; a wrong, shorter or unset secret is 403', () => {
  const secret = 'a1'.repeat(32);
  const login = { secret };
  for (const address of ['10.0.0.7', '::ffff:192.168.1.2', '127.0.0.1']) {
    assert.equal(authenticate('PLAIN', { user: interBrokerUser, password: secret }, address, login), 'inter-broker', address);
  }
  assert.equal(interBrokerUser, 'osprey-inter-broker');
  const refused = refusal(403, /^ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN\. For details see the broker logfile\.$/);
  // The same length, one digit off; shorter and longer ones; the right one for another user.
  assert.throws(() => authenticate('PLAIN', { user: interBrokerUser, password: `${secret.slice(0, -1)}2` }, '10.0.0.7', login), refused);
  assert.throws(() => authenticate('PLAIN', { user: interBrokerUser, password: secret.slice(0, 32) }, '10.0.0.7', login), refused);
  assert.throws(() => authenticate('PLAIN', { user: interBrokerUser, password: `${secret}0` }, '10.0.0.7', login), refused);
  assert.throws(() => authenticate('PLAIN', { user: interBrokerUser, password: '' }, '10.0.0.7', login), refused);
  assert.throws(() => authenticate('PLAIN', { user: 'guest', password: secret }, '10.0.0.7', login), refused);
  // No secret yet (a single broker, or before joining): nobody logs in as another broker, not even with an empty password.
  for (const password of [secret, '', 'null']) {
    assert.throws(() => authenticate('PLAIN', { user: interBrokerUser, password }, '10.0.0.7', { secret: null }), refused, password);
    assert.throws(() => authenticate('PLAIN', { user: interBrokerUser, password }, '10.0.0.7'), refused, password);
  }
  // A cluster's secret changes nothing for clients: guest/guest from loopback only.
  assert.equal(authenticate('PLAIN', { user: 'guest', password: 'guest' }, '127.0.0.1', login), 'client');
  assert.equal(authenticate('AMQPLAIN', { user: 'guest', password: 'guest' }, '::1', login), 'client');
  assert.throws(() => authenticate('PLAIN', { user: 'guest', password: 'guest' }, '10.0.0.7', login), refused);
});

test('tune-ok: 0 takes ours, lower values win, higher ones and frame_max under 4096 are 530', () => {
  assert.deepEqual(negotiateTuning(settings, { channelMax: 0, frameMax: 0, heartbeat: 0 }), { channelMax: 2047, frameMaxBytes: 131_072, heartbeatSeconds: 0 });
  assert.deepEqual(negotiateTuning(settings, { channelMax: 10, frameMax: 4096, heartbeat: 5 }), { channelMax: 10, frameMaxBytes: 4096, heartbeatSeconds: 5 });
  assert.deepEqual(negotiateTuning(settings, { channelMax: 2047, frameMax: 131_072, heartbeat: 600 }), { channelMax: 2047, frameMaxBytes: 131_072, heartbeatSeconds: 600 });
  assert.throws(() => negotiateTuning(settings, { channelMax: 0, frameMax: 4095, heartbeat: 0 }), refusal(530, /^NOT_ALLOWED - negotiated frame_max = 4095 is lower than the minimum allowed value \(4096\)$/));
  assert.throws(() => negotiateTuning(settings, { channelMax: 0, frameMax: 131_073, heartbeat: 0 }), refusal(530, /frame_max = 131073 is higher than the maximum allowed value \(131072\)/));
  assert.throws(() => negotiateTuning(settings, { channelMax: 2048, frameMax: 0, heartbeat: 0 }), refusal(530, /channel_max = 2048 is higher than the maximum allowed value \(2047\)/));
});
