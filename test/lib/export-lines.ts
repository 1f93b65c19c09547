// Reading what an export wrote: whole lines of a file and of its gzipped
// backups, and their check against Tetragon's event schema.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { validateTetragonLine } from './tetragon-schema.js';

/** The lines of a file, gzipped or not; a cut last line is left out. */
export function fileLines(path: string): string[] {
  const raw = readFileSync(path);
  const text = (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  return text.split('\n').slice(0, -1).filter(Boolean);
}

/**
 * Why a line is not a Tetragon event line (as protojson parses it). Left out:
 * Vigil's own vigil_lost events, which are not Tetragon's, and capability
 * names with Vigil's CAP_ prefix where Tetragon's enum has none
 * (CAP_DAC_OVERRIDE for DAC_OVERRIDE), a known difference of the process
 * sensor, not of the exports.
 */
export function tetragonLineErrors(line: string): string[] {
  if (line.startsWith('{"vigil_lost":')) return [];
  return validateTetragonLine(line).filter((e) => !/"CAP_\w+" is not a CapabilitiesType/.test(e));
}
