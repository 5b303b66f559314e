/**
 * The handshake's decisions: reading PLAIN and AMQPLAIN responses (AMQPLAIN as amqplib writes it,
 * the outside oracle), who may log in from where, and tune-ok negotiation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { defaultBrokerConfig } from '../../../../src/config/broker-config.js';
import { authenticate, isLoopback, negotiateTuning, readCredentials } from '../../../../src/server/amqp/handshake.js';
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
    authenticate('PLAIN', { user: 'guest', password: 'guest' }, address);
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

test('tune-ok: 0 takes ours, lower values win, higher ones and frame_max under 4096 are 530', () => {
  assert.deepEqual(negotiateTuning(settings, { channelMax: 0, frameMax: 0, heartbeat: 0 }), { channelMax: 2047, frameMaxBytes: 131_072, heartbeatSeconds: 0 });
  assert.deepEqual(negotiateTuning(settings, { channelMax: 10, frameMax: 4096, heartbeat: 5 }), { channelMax: 10, frameMaxBytes: 4096, heartbeatSeconds: 5 });
  assert.deepEqual(negotiateTuning(settings, { channelMax: 2047, frameMax: 131_072, heartbeat: 600 }), { channelMax: 2047, frameMaxBytes: 131_072, heartbeatSeconds: 600 });
  assert.throws(() => negotiateTuning(settings, { channelMax: 0, frameMax: 4095, heartbeat: 0 }), refusal(530, /^NOT_ALLOWED - negotiated frame_max = 4095 is lower than the minimum allowed value \(4096\)$/));
  assert.throws(() => negotiateTuning(settings, { channelMax: 0, frameMax: 131_073, heartbeat: 0 }), refusal(530, /frame_max = 131073 is higher than the maximum allowed value \(131072\)/));
  assert.throws(() => negotiateTuning(settings, { channelMax: 2048, frameMax: 0, heartbeat: 0 }), refusal(530, /channel_max = 2048 is higher than the maximum allowed value \(2047\)/));
});
