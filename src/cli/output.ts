/**
 * Human output: aligned tables, units, colour only on a terminal (and never with NO_COLOR).
 */

export interface Style {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
}

const plain: Style = { bold: (text) => text, dim: (text) => text, red: (text) => text, green: (text) => text, yellow: (text) => text };
const ansi = (code: number) => (text: string) => `\u001b[${code}m${text}\u001b[0m`;
const coloured: Style = { bold: ansi(1), dim: ansi(2), red: ansi(31), green: ansi(32), yellow: ansi(33) };

export function styleFor(isTerminal: boolean, env: Readonly<Record<string, string | undefined>>): Style {
  if (!isTerminal || (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') || env['TERM'] === 'dumb') return plain;
  return coloured;
}

// eslint-disable-next-line no-control-regex
const ansiPattern = /\u001b\[[0-9;]*m/g;
function visibleLength(text: string): number {
  return text.replace(ansiPattern, '').length;
}

export interface Column {
  readonly header: string;
  /** Numbers read better right-aligned. */
  readonly align?: 'left' | 'right';
}

/** An aligned table: a header row, then rows; cells are strings already formatted. */
export function table(columns: readonly Column[], rows: readonly (readonly string[])[], style: Style = plain): string {
  const widths = columns.map((column, index) => Math.max(column.header.length, ...rows.map((row) => visibleLength(row[index] ?? ''))));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, index) => {
        const pad = ' '.repeat(Math.max(0, widths[index]! - visibleLength(cell)));
        const last = index === cells.length - 1;
        return columns[index]?.align === 'right' ? pad + cell : last ? cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  return [style.bold(line(columns.map((column) => column.header))), ...rows.map(line)].join('\n') + '\n';
}

/** "key: value" lines with the keys aligned. */
export function keyValues(entries: readonly (readonly [string, string])[], style: Style = plain): string {
  const width = Math.max(...entries.map(([key]) => key.length)) + 1;
  return entries.map(([key, value]) => `${style.bold((key + ':').padEnd(width + 1))}${value}`).join('\n') + '\n';
}

const byteUnits = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < byteUnits.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2)} ${byteUnits[unit]}`;
}

/** 1234567 → "1,234,567". */
export function formatCount(count: number): string {
  return Math.round(count).toLocaleString('en-US');
}

/** Milliseconds with sensible precision: 0.042 ms, 3.1 ms, 250 ms, 1.52 s. */
export function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${ms.toFixed(3)} ms`;
}

/** A value or "-" for unknown. */
export function orDash(value: number | string | null | undefined): string {
  return value === null || value === undefined || value === '' ? '-' : String(value);
}
