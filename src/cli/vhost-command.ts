/**
 * `osprey vhost list|create|delete`: the AMQP virtual hosts, through the broker's HTTP admin API.
 */
import type { Subcommand } from './command-kit.js';
import { formatCount, table } from './output.js';

export const vhostSummary = 'list, create and delete AMQP virtual hosts';

const list: Subcommand = {
  name: 'vhost list',
  summary: 'list virtual hosts with their message counts',
  usesAdminApi: true,
  examples: ['osprey vhost list', 'osprey vhost list --json --http-address 10.0.0.5:8080'],
  async run(run) {
    const hosts = await run.adminApi().listVirtualHosts();
    if (run.json) run.outJson(hosts);
    else run.out(table([{ header: 'VHOST' }, { header: 'MESSAGES', align: 'right' }, { header: 'READY', align: 'right' }, { header: 'UNACKED', align: 'right' }], hosts.map((host) => [host.name, formatCount(host.messages), formatCount(host.messages_ready), formatCount(host.messages_unacknowledged)]), run.style));
    return 0;
  },
};

const create: Subcommand = {
  name: 'vhost create',
  summary: 'create a virtual host (nothing changes if it exists)',
  args: 'NAME',
  positionals: { min: 1, max: 1 },
  usesAdminApi: true,
  examples: ['osprey vhost create staging'],
  async run(run) {
    const name = run.arg(0);
    const created = await run.adminApi().createVirtualHost(name);
    if (run.json) run.outJson({ vhost: name, created });
    else run.out(created ? `created vhost ${run.style.bold(name)}\n` : `vhost ${name} exists already\n`);
    return 0;
  },
};

const remove: Subcommand = {
  name: 'vhost delete',
  summary: 'delete virtual hosts with all their exchanges, queues and messages',
  args: 'NAME…',
  positionals: { min: 1, max: 1000 },
  usesAdminApi: true,
  examples: ['osprey vhost delete staging'],
  async run(run) {
    const api = run.adminApi();
    for (const name of run.positionals) await api.deleteVirtualHost(name);
    if (run.json) run.outJson({ deleted: run.positionals });
    else for (const name of run.positionals) run.out(`deleted vhost ${name}\n`);
    return 0;
  },
};

export const vhostCommands: readonly Subcommand[] = [list, create, remove];
