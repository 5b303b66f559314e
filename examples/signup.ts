/**
 * signup: slow work moved out of a web request, fanned out to two workers.
 *
 * A real HTTP server (node:http, on a free port of 127.0.0.1) answers POST /signup: it stores the
 * user (in memory here) and publishes one `user.signed-up` event to the fanout exchange
 * `signup.events`, waiting for the broker's confirm, then answers 201. It does not send the welcome
 * mail or the SMS itself: a mail worker and an SMS worker, each with its own connection and its own
 * durable queue bound to the exchange (`signup.mail`, `signup.sms`), receive every event and do that
 * work in parallel. The example signs up three users through the server, prints how long each
 * answer took (the store and one publish, not the mail and the SMS as well) and checks that both
 * workers got every event.
 *
 *   npm run example -- signup
 *
 * Shown with amqplib, over AMQP 0-9-1 (OSPREY_AMQP_URL, default amqp://guest:guest@127.0.0.1:5672/).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { connectAmqp, elapsedMs, expect, ExampleFailure, runExample, waitUntil } from './lib/example-runtime.js';

const exchangeName = 'signup.events';
/** What each worker pretends its work takes: talking to a mail or SMS provider is slow. */
const mailWorkMs = 600;
const smsWorkMs = 400;
const workersTimeoutMs = 15_000;
const newUsers = [
  { name: 'alice', email: 'alice@example.com', phone: '+15550100001' },
  { name: 'bob', email: 'bob@example.com', phone: '+15550100002' },
  { name: 'carol', email: 'carol@example.com', phone: '+15550100003' },
] as const;

interface User {
  readonly name: string;
  readonly email: string;
  readonly phone: string;
}

interface SignedUp extends User {
  readonly type: 'user.signed-up';
  readonly publishedAtMs: number;
}

/** Publishes on a confirm channel; resolves once the broker has the event (rejects if it refused it). */
function publishConfirmed(channel: ConfirmChannel, event: SignedUp): Promise<void> {
  return new Promise((resolve, reject) => {
    channel.publish(exchangeName, '', Buffer.from(JSON.stringify(event)), { persistent: true, contentType: 'application/json', type: event.type }, (error: unknown) => {
      if (error === null || error === undefined) resolve();
      else reject(new ExampleFailure(`the broker refused the event for ${event.name}`));
    });
  });
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

function isUser(value: unknown): value is User {
  if (typeof value !== 'object' || value === null) return false;
  const fields = value as Record<string, unknown>;
  return typeof fields['name'] === 'string' && typeof fields['email'] === 'string' && typeof fields['phone'] === 'string';
}

/** The web handler: one write of the user, one publish; the answer says how long the two took. */
function signupHandler(users: Map<string, User>, channel: ConfirmChannel) {
  return async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (request.method !== 'POST' || request.url !== '/signup') {
      response.writeHead(404).end();
      return;
    }
    const body = await readJson(request).catch(() => null);
    if (!isUser(body)) {
      response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'expected {name, email, phone}' }));
      return;
    }
    const startMs = performance.now();
    users.set(body.email, { name: body.name, email: body.email, phone: body.phone });
    await publishConfirmed(channel, { type: 'user.signed-up', name: body.name, email: body.email, phone: body.phone, publishedAtMs: Date.now() });
    response.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ created: body.email, handlerMs: elapsedMs(startMs) }));
  };
}

async function startServer(users: Map<string, User>, channel: ConfirmChannel): Promise<Server> {
  const handle = signupHandler(users, channel);
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500).end(error instanceof Error ? error.message : String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** A worker: its own connection and queue; does its slow work for each event, then acks it. */
async function startWorker(kind: 'mail' | 'SMS', queueName: string, workMs: number, done: string[]): Promise<{ close(): Promise<void> }> {
  const connection = await connectAmqp();
  const channel = await connection.createChannel();
  await channel.prefetch(1);
  await channel.consume(queueName, (message: ConsumeMessage | null) => {
    if (message === null) return;
    const event = JSON.parse(message.content.toString()) as SignedUp;
    const receivedAfterMs = Date.now() - event.publishedAtMs;
    void sleep(workMs).then(() => {
      const to = kind === 'mail' ? event.email : event.phone;
      console.log(`  ${kind} worker: got ${event.name}'s event ${receivedAfterMs} ms after it was published; welcome ${kind} sent to ${to} (${workMs} ms of work)`);
      done.push(event.name);
      channel.ack(message);
    });
  });
  return {
    // The channel first: its close-ok comes after the broker took the acks sent before it.
    async close() {
      await channel.close();
      await connection.close();
    },
  };
}

async function declareTopology(): Promise<void> {
  const connection = await connectAmqp();
  const channel = await connection.createChannel();
  await channel.assertExchange(exchangeName, 'fanout', { durable: true });
  for (const queueName of ['signup.mail', 'signup.sms']) {
    // Deleted first so that events left by an earlier, interrupted run are not counted.
    await channel.deleteQueue(queueName);
    await channel.assertQueue(queueName, { durable: true });
    await channel.bindQueue(queueName, exchangeName, '');
  }
  await connection.close();
  console.log(`declared the fanout exchange ${exchangeName} and two queues bound to it: signup.mail, signup.sms`);
}

async function signUp(url: string, user: User): Promise<{ status: number; roundTripMs: number; handlerMs: number }> {
  const startMs = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(user) });
  const answer = (await response.json()) as { handlerMs?: number };
  return { status: response.status, roundTripMs: elapsedMs(startMs), handlerMs: answer.handlerMs ?? -1 };
}

async function main(): Promise<void> {
  await declareTopology();
  const mailed: string[] = [];
  const texted: string[] = [];
  const workers = [await startWorker('mail', 'signup.mail', mailWorkMs, mailed), await startWorker('SMS', 'signup.sms', smsWorkMs, texted)];
  console.log(`mail worker (${mailWorkMs} ms per mail) and SMS worker (${smsWorkMs} ms per SMS) consuming`);

  const publisher = await connectAmqp();
  const users = new Map<string, User>();
  const server = await startServer(users, await publisher.createConfirmChannel());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/signup`;
  console.log(`web handler listening: POST ${url}`);

  const firstSignupMs = performance.now();
  const roundTrips: number[] = [];
  const handlerTimes: number[] = [];
  for (const user of newUsers) {
    const { status, roundTripMs, handlerMs } = await signUp(url, user);
    expect(status === 201, `POST /signup for ${user.name} answered ${status}`);
    roundTrips.push(roundTripMs);
    handlerTimes.push(handlerMs);
    console.log(`POST /signup ${user.name}: 201 in ${roundTripMs} ms (handler: store the user and one confirmed publish, ${handlerMs} ms)`);
  }
  const everyone = newUsers.map((user) => user.name);
  await waitUntil(() => mailed.length >= everyone.length && texted.length >= everyone.length, `both workers to handle ${everyone.length} signups (mail ${mailed.length}, SMS ${texted.length})`, workersTimeoutMs);
  const allDoneMs = elapsedMs(firstSignupMs);

  server.close();
  await publisher.close();
  for (const worker of workers) await worker.close();

  expect(users.size === everyone.length, `the handler stored ${users.size} users, expected ${everyone.length}`);
  expect(everyone.every((name) => mailed.includes(name)) && mailed.length === everyone.length, `the mail worker handled ${mailed.join(', ')}; expected each of ${everyone.join(', ')} once`);
  expect(everyone.every((name) => texted.includes(name)) && texted.length === everyone.length, `the SMS worker handled ${texted.join(', ')}; expected each of ${everyone.join(', ')} once`);
  console.log(
    `web handler: answered each signup in at most ${Math.max(...roundTrips)} ms, ${Math.max(...handlerTimes)} ms of it in the handler (one write of the user, one confirmed publish); sending the mail and the SMS inline would have taken over ${mailWorkMs + smsWorkMs} ms each`,
  );
  console.log(
    `both workers got every event: mail ${mailed.length} of ${everyone.length}, SMS ${texted.length} of ${everyone.length}, working in parallel: all done ${allDoneMs} ms after the first signup (one worker doing both would have needed over ${everyone.length * (mailWorkMs + smsWorkMs)} ms)`,
  );
}

runExample('signup', main);
