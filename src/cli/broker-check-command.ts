/**
 * `osprey broker check --data-dir DIR [--json]`: reads every partition log in a data directory
 * (storage/check.ts) and reports damage, without changing anything. It can run beside a running
 * broker (it only reads), though data being written then may show as a torn tail.
 *
 * Exit codes: 0 no damage (notices, such as a torn write the next start will cut, may be listed);
 * 1 damage found, or the directory could not be read; 2 invalid usage.
 */
import { parseArgs } from 'node:util';
import { statSync } from 'node:fs';
import type { CommandContext } from './broker-command.js';
import { checkDataDirectory } from '../storage/check.js';
import type { CheckReport } from '../storage/check.js';
import { formatBytes, formatCount } from './output.js';

export function brokerCheckHelpText(): string {
  return [
    'Usage: osprey broker check --data-dir DIR [--json]',
    '',
    'Read every segment and index of every partition log under DIR and report damage: batches that',
    'fail their CRC-32C or header checks (file, position, offsets), missing offsets, index entries',
    'that do not match the log, checkpoints beyond the log. Nothing is changed.',
    '',
    '  --data-dir DIR   the broker\'s data directory (required)',
    '  --json           the report as JSON',
    '  -h, --help       show this help',
    '',
    'Exit codes: 0 no damage, 1 damage found (or DIR unreadable), 2 invalid usage.',
    '',
  ].join('\n');
}

export async function runBrokerCheckCommand(context: CommandContext): Promise<number> {
  let values: { 'data-dir'?: string | undefined; json?: boolean | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: [...context.argv],
      options: { 'data-dir': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    context.stderr(`osprey broker check: ${error instanceof Error ? error.message : String(error)}; see osprey broker check --help\n`);
    return 2;
  }
  if (values.help === true) {
    context.stdout(brokerCheckHelpText());
    return 0;
  }
  const dataDir = values['data-dir'];
  if (dataDir === undefined) {
    context.stderr('osprey broker check: --data-dir DIR is required\n');
    return 2;
  }
  let report: CheckReport;
  try {
    if (!statSync(dataDir).isDirectory()) throw new Error('not a directory');
    report = checkDataDirectory(dataDir);
  } catch (error) {
    context.stderr(`osprey broker check: cannot read ${dataDir}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  const damaged = report.findings.filter((finding) => finding.kind === 'damage');
  if (values.json === true) context.stdout(JSON.stringify({ ...report, damaged: damaged.length > 0 }, null, 2) + '\n');
  else context.stdout(describeReport(report));
  return damaged.length > 0 ? 1 : 0;
}

function describeReport(report: CheckReport): string {
  const segments = report.logs.reduce((sum, log) => sum + log.segments, 0);
  const batches = report.logs.reduce((sum, log) => sum + log.batches, 0);
  const bytes = report.logs.reduce((sum, log) => sum + log.bytes, 0);
  const lines = [`checked ${report.logs.length} partition logs in ${report.dataDir}: ${formatCount(segments)} segments, ${formatCount(batches)} batches, ${formatBytes(bytes)}`];
  for (const finding of report.findings) {
    const where = finding.file === null ? finding.log : `${finding.log}/${finding.file}`;
    lines.push(`${finding.kind === 'damage' ? 'DAMAGE' : 'notice'}  ${where}: ${finding.message}`);
  }
  const damagedLogs = new Set(report.findings.filter((finding) => finding.kind === 'damage').map((finding) => finding.log));
  lines.push(damagedLogs.size === 0 ? 'no damage found' : `damage found in ${damagedLogs.size} partition log${damagedLogs.size === 1 ? '' : 's'}: ${[...damagedLogs].join(', ')}`);
  return lines.join('\n') + '\n';
}
