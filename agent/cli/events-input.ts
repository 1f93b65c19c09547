// `vigil events --input FILE|-`: exported JSON lines read back from a file
// or stdin instead of the agent. Input is untrusted: a line longer than
// MAX_LINE is skipped without being held, and lines that are not an event
// are counted and named at the end, not fatal.
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { VigilError } from '../../kernel/errors.js';

export const MAX_LINE = 4 << 20;

export interface InputTally { lines: number; tooLong: number; notEvents: number }

/**
 * Calls onLine for each line of the input (without its newline), in order;
 * onLine says whether the line was an event. After each chunk, waits for
 * drained() so a slow reader of the output holds the input back.
 */
export async function readInput(path: string, onLine: (line: string) => boolean, drained: () => Promise<void> | undefined, max = MAX_LINE): Promise<InputTally> {
  const input: Readable = path === '-' ? process.stdin : createReadStream(path);
  const tally: InputTally = { lines: 0, tooLong: 0, notEvents: 0 };
  let parts: Buffer[] = [];
  let held = 0;
  let skipping = false;
  const end = (): void => {
    if (!skipping && held && !onLine(Buffer.concat(parts).toString('utf8'))) tally.notEvents++;
    if (skipping || held) tally.lines++;
    parts = [];
    held = 0;
    skipping = false;
  };
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let from = 0;
      for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, from)) {
        take(chunk.subarray(from, nl));
        end();
        from = nl + 1;
      }
      take(chunk.subarray(from));
      await drained();
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new VigilError('VIGIL_USAGE', `--input ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  end();
  return tally;

  function take(b: Buffer): void {
    if (skipping || !b.length) return;
    if (held + b.length > max) {
      skipping = true;
      tally.tooLong++;
      parts = [];
      held = 0;
      return;
    }
    parts.push(b);
    held += b.length;
  }
}

export function inputSummary(path: string, t: InputTally): string | undefined {
  const skipped = [
    t.tooLong ? `${t.tooLong} longer than ${MAX_LINE >> 20} MiB` : '',
    t.notEvents ? `${t.notEvents} not an event` : '',
  ].filter(Boolean);
  return skipped.length ? `vigil: ${path}: ${t.lines} lines, skipped ${skipped.join(', ')}` : undefined;
}
