// Reading what an export wrote: whole lines of a file and of its gzipped
// backups, and their check against Tetragon's event schema.
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { validateTetragonLine, type TetragonForm } from './tetragon-schema.js';

/** The lines of a file, gzipped or not; a cut last line is left out. */
export function fileLines(path: string): string[] {
  const raw = readFileSync(path);
  const text = (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  return text.split('\n').slice(0, -1).filter(Boolean);
}

/**
 * Why a line is not one Tetragon would write (form 'written', the default)
 * or could parse ('parsed'). Left out: Vigil's own vigil_lost events, which
 * are not Tetragon's.
 */
export function tetragonLineErrors(line: string): string[] {
  return lineErrors(line, 'written');
}

export function lineErrors(line: string, form: TetragonForm): string[] {
  if (line.startsWith('{"vigil_lost":')) return [];
  return validateTetragonLine(line, form);
}

/**
 * Every whole line of a Tetragon-JSON export file against Tetragon's event
 * schema: the first failing lines, when any line is not one Tetragon would
 * write.
 */
export function exportFileErrors(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const bad: string[] = [];
  let n = 0;
  for (const line of fileLines(path)) {
    n++;
    const errors = tetragonLineErrors(line);
    if (errors.length) bad.push(`line ${n}: ${errors.join('; ')}\n  ${line.slice(0, 300)}`);
  }
  return bad.length ? `${path}: ${bad.length} of ${n} lines are not Tetragon event lines:\n${bad.slice(0, 5).join('\n')}` : undefined;
}

const failedFiles: string[] = [];

/**
 * Checks an export file (exportFileErrors) as a test agent stops. A
 * failure fails the test file as it exits (printed, exit code 1), which the
 * suite counts: a throw would stop the teardowns that follow, which must
 * still clean up, and an assertion may come after the root test ended.
 */
export function checkExportFile(path: string): void {
  const errors = exportFileErrors(path);
  if (!errors) return;
  if (!failedFiles.length) {
    process.on('exit', () => {
      console.error(`not every exported line is a Tetragon event line:\n${failedFiles.join('\n')}`);
      process.exitCode = 1;
    });
  }
  failedFiles.push(errors);
}
