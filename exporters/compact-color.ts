// Colours of compact lines, as Tetragon's encoder paints them: the event's
// emoji and name blue, where it ran green, the binary and the capability
// trailer magenta, what it is about cyan, an exit's status red. `auto`
// colours a terminal only, and never with NO_COLOR set or TERM=dumb.

export type ColorMode = 'auto' | 'always' | 'never';
export const COLOR_MODES: readonly ColorMode[] = ['auto', 'always', 'never'];

type Paint = (s: string) => string;
export interface Palette { blue: Paint; green: Paint; magenta: Paint; cyan: Paint; red: Paint }

const same: Paint = (s) => s;
export const PLAIN: Palette = { blue: same, green: same, magenta: same, cyan: same, red: same };

/** SGR foreground codes; Go's fatih/color writes the same escape for an empty string too. */
const sgr = (code: number): Paint => (s) => `\x1b[${code}m${s}\x1b[0m`;
export const ANSI: Palette = { red: sgr(31), green: sgr(32), blue: sgr(34), magenta: sgr(35), cyan: sgr(36) };

export function paletteFor(mode: ColorMode, out: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Palette {
  if (mode === 'always') return ANSI;
  if (mode === 'never') return PLAIN;
  const noColor = env.NO_COLOR !== undefined || env.TERM === 'dumb';
  return out.isTTY && !noColor ? ANSI : PLAIN;
}
