/**
 * External programs that tests drive (kcat …). A test that needs one fails, saying what is missing
 * and how to install it; it never skips, so a green run means the test really ran.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** How to get each tool on the Debian 12 machines we run on (.ci/run installs them). */
const installHints: Readonly<Record<string, string>> = {
  kcat: 'apt-get install -y kcat',
  etcd: 'apt-get install -y etcd-server',
  'rabbitmq-server': 'apt-get install -y rabbitmq-server',
  'nats-server': 'apt-get install -y nats-server',
  'redis-server': 'apt-get install -y redis-server',
  'amqp-publish': 'apt-get install -y amqp-tools',
  'amqp-get': 'apt-get install -y amqp-tools',
  'amqp-consume': 'apt-get install -y amqp-tools',
  'amqp-declare-queue': 'apt-get install -y amqp-tools',
  'amqp-delete-queue': 'apt-get install -y amqp-tools',
};

/** The absolute path of `name` on PATH; throws an Error naming the tool and its install command. */
export function requireTool(name: string): string {
  const searched = (process.env['PATH'] ?? '').split(delimiter).filter((directory) => directory !== '');
  for (const directory of searched) {
    const candidate = join(directory, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  const install = installHints[name] ?? `install the package that provides '${name}'`;
  throw new Error(
    `this test needs '${name}', which is not on PATH (searched ${searched.join(delimiter) || 'an empty PATH'}). ` +
      `Install it with: ${install} (as root; .ci/run does this), then run the tests again.`,
  );
}

/**
 * A Python 3 interpreter that can import `module`, which the Debian package `debianPackage`
 * provides. Debian's python3-* packages install for the system interpreter, /usr/bin/python3, which
 * a python3 earlier on PATH (pyenv, a virtualenv) does not see: that one is tried first, then
 * PATH's. Throws an Error naming the module and the install command when neither has it.
 */
export function requirePythonModule(module: string, debianPackage: string): string {
  const candidates = ['/usr/bin/python3'];
  try {
    candidates.push(requireTool('python3'));
  } catch {
    // no python3 on PATH: only the system one is left to try
  }
  for (const interpreter of candidates) {
    const probe = spawnSync(interpreter, ['-c', `import ${module}`], { stdio: 'ignore', timeout: 10_000 });
    if (probe.status === 0) return interpreter;
  }
  throw new Error(
    `this test needs the Python module '${module}', which none of ${candidates.join(', ')} can import. ` +
      `Install it with: apt-get install -y ${debianPackage} (as root; .ci/run does this), then run the tests again.`,
  );
}

/** The repository root: the nearest folder above this file holding package.json. */
export function repositoryRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(directory, 'package.json'))) {
    const parent = dirname(directory);
    if (parent === directory) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    directory = parent;
  }
  return directory;
}
