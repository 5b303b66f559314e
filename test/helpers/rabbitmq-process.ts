/**
 * A throw-away RabbitMQ node for integration tests (about 15–18 s to boot), started the way the
 * benchmark starts it (bench/brokers/rabbitmq.ts: loopback only, free ports, its own epmd, every
 * file in a temporary folder). Missing rabbitmq-server fails the test with how to install it; it
 * never skips. Whatever is still running when the test process exits is killed.
 *
 *   const rabbitmq = await startRabbitmqProcess();
 *   … connect to rabbitmq.url …
 *   await rabbitmq.stop();
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startRabbitmq } from '../../bench/brokers/rabbitmq.js';
import { cleanUpNow } from '../../bench/lib/processes.js';
import { requireTool } from './tools.js';

export interface RabbitmqProcess {
  readonly host: string;
  readonly port: number;
  /** amqp://guest:guest@127.0.0.1:PORT/ */
  readonly url: string;
  stop(): Promise<void>;
}

const debianServerScript = '/usr/lib/rabbitmq/bin/rabbitmq-server';
let exitHookInstalled = false;

export async function startRabbitmqProcess(): Promise<RabbitmqProcess> {
  if (!existsSync(debianServerScript)) requireTool('rabbitmq-server');
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', cleanUpNow);
  }
  const broker = await startRabbitmq({ dataParent: tmpdir() });
  return { host: broker.host, port: broker.port, url: `amqp://guest:guest@${broker.host}:${broker.port}/`, stop: () => broker.stop() };
}
