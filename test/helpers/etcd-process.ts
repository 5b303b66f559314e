/**
 * A real etcd for integration tests (src/cluster/local/etcd-process.ts): one member on free loopback
 * ports, its data in a temporary folder. Missing etcd fails the test with how to install it; it never
 * skips. An etcd still running when the test process exits is killed.
 *
 *   const etcd = await startTestEtcd();
 *   … brokers get ['--etcd-endpoints', etcd.endpoint] …
 *   await etcd.stop();
 */
import { startEtcdProcess } from '../../src/cluster/local/etcd-process.js';
import type { EtcdProcess } from '../../src/cluster/local/etcd-process.js';
import { temporaryDirectory } from './broker-process.js';
import { requireTool } from './tools.js';

const running = new Set<EtcdProcess>();
let exitHookInstalled = false;

function killAll(): void {
  for (const etcd of running) {
    try {
      process.kill(etcd.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
}

export async function startTestEtcd(): Promise<EtcdProcess> {
  const executable = requireTool('etcd');
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killAll);
  }
  const etcd = await startEtcdProcess({ executable, dataDir: temporaryDirectory('osprey-etcd-') });
  running.add(etcd);
  void etcd.exited.then(() => running.delete(etcd));
  return etcd;
}
