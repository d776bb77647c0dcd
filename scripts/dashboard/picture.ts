/**
 * The dashboard as the construct builds it, drawn: synthesizes a stack with the construct, reads
 * the dashboard's body from the template, and draws its widgets where CloudWatch places them (a
 * 24-column grid), each with its title and what it plots. `npm run docs:dashboard` writes
 * docs/dashboard.svg; test/docs/dashboard.test.ts fails when the committed picture is not what
 * the construct builds.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AutoRetryStack } from '../../lib/auto-retry-stack';

export const PICTURE = join(__dirname, '..', '..', 'docs', 'dashboard.svg');

interface Widget {
  readonly type: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly properties: {
    readonly title?: string;
    readonly markdown?: string;
    readonly metrics?: readonly (readonly unknown[])[];
    readonly alarms?: readonly unknown[];
  };
}

/** The dashboard's widgets, from a synthesized stack (the region token written as <region>). */
export function dashboardWidgets(): Widget[] {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new AutoRetryStack(app, 'Picture', { env: { account: '123456789012', region: 'eu-west-1' } });
  const dashboards = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'));
  const body = (dashboards[0] as { Properties: { DashboardBody: unknown } } | undefined)?.Properties.DashboardBody;
  const text = typeof body === 'string' ? body : flatten(body);
  return (JSON.parse(text) as { widgets: Widget[] }).widgets;
}

/** Fn::Join of strings and tokens, as one string with every token as a placeholder. */
function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) return '<token>';
  return join[1].map((part) => (typeof part === 'string' ? part : flatten(part))).join(join[0]);
}

/** What a widget plots, one short line each: metric names, search labels, alarms. */
export function plotted(widget: Widget): string[] {
  const lines: string[] = [];
  for (const metric of widget.properties.metrics ?? []) {
    const options = metric.find((m) => typeof m === 'object' && m !== null) as
      | { label?: string; expression?: string; stat?: string }
      | undefined;
    if (options?.expression) {
      const name = /MetricName=\\?"?([A-Za-z]+)/.exec(options.expression)?.[1];
      lines.push(`${options.label ?? 'search'} ${name ?? options.expression}`.trim());
    } else {
      const name = metric[1];
      const stat = options?.stat && options.stat !== 'Sum' ? ` ${options.stat}` : '';
      if (typeof name === 'string') lines.push(options?.label ?? `${name}${stat}`);
    }
  }
  if (widget.properties.alarms) lines.push(`${widget.properties.alarms.length} alarms`);
  return lines;
}

const COLUMN = 40;
const ROW = 26;
const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The picture: one box per widget at its grid place, the title in bold, what it plots below. */
export function drawDashboard(widgets: readonly Widget[]): string {
  const height = Math.max(...widgets.map((w) => w.y + w.height)) * ROW + 20;
  const boxes = widgets.map((w) => {
    const [x, y, width, h] = [w.x * COLUMN + 10, w.y * ROW + 10, w.width * COLUMN - 8, w.height * ROW - 8];
    const title = w.properties.title ?? (w.type === 'text' ? (w.properties.markdown ?? '').split('\n')[0]?.replace(/^#+\s*/, '') : w.type);
    const room = Math.max(1, Math.floor((h - 34) / 15));
    const lines = plotted(w);
    const shown = lines.length > room ? [...lines.slice(0, room - 1), `… and ${lines.length - room + 1} more`] : lines;
    const body = shown.map((line, i) => `<text x="${x + 10}" y="${y + 40 + i * 15}" class="m">${escapeXml(line)}</text>`).join('');
    return (
      `<rect x="${x}" y="${y}" width="${width}" height="${h}" rx="4" class="w"/>` +
      `<text x="${x + 10}" y="${y + 20}" class="t">${escapeXml(clip(title ?? '', Math.floor(width / 7)))}</text>${body}`
    );
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${24 * COLUMN + 20}" height="${height}" viewBox="0 0 ${24 * COLUMN + 20} ${height}">`,
    '<style>.w{fill:#f8f9fa;stroke:#8d99a6}.t{font:bold 13px sans-serif;fill:#16191f}.m{font:12px monospace;fill:#414d5c}</style>',
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...boxes,
    '</svg>',
    '',
  ].join('\n');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

if (require.main === module) {
  writeFileSync(PICTURE, drawDashboard(dashboardWidgets()));
  process.stdout.write(`wrote ${PICTURE}\n`);
}
