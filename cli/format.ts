/** Terminal output: aligned tables for people, colour only when stdout is a terminal. */

export type Colour = 'green' | 'red' | 'yellow' | 'dim' | 'bold';
const CODES: Record<Colour, [number, number]> = { green: [32, 39], red: [31, 39], yellow: [33, 39], dim: [2, 22], bold: [1, 22] };

export interface Style {
  readonly enabled: boolean;
  paint(text: string, colour: Colour | undefined): string;
}

export function makeStyle(enabled: boolean): Style {
  return {
    enabled,
    paint: (text, colour) => (enabled && colour ? `\u001b[${CODES[colour][0]}m${text}\u001b[${CODES[colour][1]}m` : text),
  };
}

/** Colour follows the usual conventions: only on a TTY, never with NO_COLOR, always with FORCE_COLOR. */
export function colourWanted(isTty: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return Boolean(isTty);
}

export interface Cell {
  readonly text: string;
  readonly colour?: Colour;
}

/** Renders rows under headers with every column padded to its widest cell. */
export function renderTable(headers: readonly string[], rows: readonly (readonly (string | Cell)[])[], style: Style): string[] {
  const cells = rows.map((row) => row.map((c) => (typeof c === 'string' ? { text: c } : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.text.length ?? 0)));
  const line = (row: readonly Cell[]) =>
    row
      .map((c, i) => {
        const padded = i === row.length - 1 ? c.text : c.text.padEnd(widths[i] ?? 0);
        return style.paint(padded, c.colour);
      })
      .join('  ')
      .trimEnd();
  return [line(headers.map((h) => ({ text: h, colour: 'bold' as const }))), ...cells.map(line)];
}

/** Colour for a ledger decision or outcome word. */
export function colourOf(word: string): Colour | undefined {
  if (['retried', 'recovered', 'succeeded'].includes(word)) return 'green';
  if (['failed', 'exhausted', 'max-retries'].includes(word)) return 'red';
  if (['scheduled', 'rescheduled', 'observed', 'skipped', 'abandoned', 'retrying'].includes(word)) return 'yellow';
  return undefined;
}

export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

export function shortTime(iso: string | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d{3}Z$/, 'Z') : '-';
}
