/**
 * A small SVG writer for horizontal bar charts: panels stacked top to bottom, each a list of rows
 * (one per driver), each row one bar per series with an optional min–max whisker.
 *
 *   Publish, 100 B (msg/s)                      ← panel title
 *   osprey / kafkajs   ███████████▏─┤ 41.2k     ← row label │ bar │ whisker │ value
 *                      ██████▏ 20.1k            ← second series of the same row
 *
 * Linear or logarithmic axis per panel; no dependencies, deterministic output (so it can be tested).
 */

export interface BarValue {
  readonly series: string;
  readonly value: number;
  readonly min?: number;
  readonly max?: number;
}

export interface BarRow {
  readonly label: string;
  readonly values: readonly BarValue[];
}

export interface Panel {
  readonly title: string;
  readonly scale: 'linear' | 'log';
  readonly rows: readonly BarRow[];
  /** Formats a value for its label (e.g. "41.2k", "3.1ms"). */
  readonly format: (value: number) => string;
}

export interface ChartOptions {
  readonly title: string;
  readonly subtitle?: string;
  readonly width?: number;
}

const palette = ['#2b6cb0', '#dd6b20', '#38a169', '#805ad5', '#c53030', '#718096'];
const labelWidth = 230;
const barHeight = 12;
const rowGap = 8;
const panelGap = 28;
const valueLabelWidth = 70;
/** Average width of an 11 px sans-serif character, for laying out the legend. */
const approximateCharacterWidth = 6.2;

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** The whole chart as an SVG document. */
export function renderBarChart(panels: readonly Panel[], options: ChartOptions): string {
  const width = options.width ?? 900;
  const plotWidth = width - labelWidth - valueLabelWidth - 20;
  const seriesNames = [...new Set(panels.flatMap((panel) => panel.rows.flatMap((row) => row.values.map((value) => value.series))))];
  const colour = (series: string) => palette[seriesNames.indexOf(series) % palette.length]!;
  const parts: string[] = [];
  let y = 30;
  parts.push(`<text x="10" y="${y}" font-size="16" font-weight="bold">${escapeXml(options.title)}</text>`);
  if (options.subtitle !== undefined) {
    y += 18;
    parts.push(`<text x="10" y="${y}" font-size="11" fill="#4a5568">${escapeXml(options.subtitle)}</text>`);
  }
  y += 20;
  let legendX = 10;
  for (const series of seriesNames) {
    parts.push(`<rect x="${legendX}" y="${y - 10}" width="12" height="12" fill="${colour(series)}"/><text x="${legendX + 16}" y="${y}" font-size="11">${escapeXml(series)}</text>`);
    legendX += 16 + Math.ceil(series.length * approximateCharacterWidth) + 20;
  }
  y += 14;
  for (const panel of panels) {
    y += panelGap;
    parts.push(`<text x="10" y="${y - 8}" font-size="13" font-weight="bold">${escapeXml(panel.title)}</text>`);
    const all = panel.rows.flatMap((row) => row.values.flatMap((value) => [value.value, value.max ?? value.value]));
    const top = all.length === 0 ? 1 : Math.max(...all);
    const positive = all.filter((value) => value > 0);
    const bottom = positive.length === 0 ? 1 : Math.min(...positive);
    const scale = makeScale(panel.scale, bottom, top, plotWidth);
    for (const row of panel.rows) {
      const rowHeight = Math.max(1, row.values.length) * barHeight;
      parts.push(`<text x="${labelWidth - 8}" y="${y + rowHeight / 2 + 4}" font-size="11" text-anchor="end">${escapeXml(row.label)}</text>`);
      row.values.forEach((value, index) => {
        const barY = y + index * barHeight;
        const barWidth = scale(value.value);
        parts.push(`<rect x="${labelWidth}" y="${barY + 1}" width="${fixed(barWidth)}" height="${barHeight - 2}" fill="${colour(value.series)}"><title>${escapeXml(`${row.label} · ${value.series}: ${panel.format(value.value)}`)}</title></rect>`);
        let end = labelWidth + barWidth;
        if (value.min !== undefined && value.max !== undefined) {
          const from = labelWidth + scale(value.min);
          const to = labelWidth + scale(value.max);
          const middle = barY + barHeight / 2;
          parts.push(`<path d="M${fixed(from)} ${middle}H${fixed(to)}M${fixed(from)} ${middle - 3}V${middle + 3}M${fixed(to)} ${middle - 3}V${middle + 3}" stroke="#1a202c" stroke-width="1" fill="none"/>`);
          end = Math.max(end, to);
        }
        parts.push(`<text x="${fixed(end + 4)}" y="${barY + barHeight - 2}" font-size="10">${escapeXml(panel.format(value.value))}</text>`);
      });
      y += rowHeight + rowGap;
    }
    const hasWhiskers = panel.rows.some((row) => row.values.some((value) => value.min !== undefined && value.max !== undefined));
    parts.push(`<text x="${labelWidth}" y="${y + 6}" font-size="9" fill="#718096">${panel.scale === 'log' ? 'logarithmic axis' : 'linear axis from 0'}${hasWhiskers ? '; whiskers: min–max of rounds' : ''}</text>`);
  }
  const height = y + 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

function makeScale(kind: 'linear' | 'log', bottom: number, top: number, plotWidth: number): (value: number) => number {
  if (kind === 'linear') return (value) => (top <= 0 ? 0 : (Math.max(0, value) / top) * plotWidth);
  const low = Math.log10(bottom) - 0.3;
  const high = Math.log10(top);
  const span = Math.max(high - low, 1e-9);
  return (value) => (value <= 0 ? 0 : Math.max(2, ((Math.log10(value) - low) / span) * plotWidth));
}

function fixed(value: number): string {
  return value.toFixed(1);
}
