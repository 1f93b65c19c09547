// Backups of a rotated export file, named as lumberjack names them (the
// rotating writer Tetragon's --export-file-* flags drive): the current file
// keeps its name, and a backup takes the rotation time, in UTC, between the
// name and the extension:
//
//   events.log -> events-2024-05-01T10-00-00.000.log  (.log.gz once compressed)
//
// After each rotation the mill runs in the background: it removes all but
// the newest maxBackups backups (0 keeps them all) and, with compress,
// gzips the others with Node's zlib (to NAME.gz.tmp, then renamed, so a
// reader never sees half a .gz).
import { createReadStream, createWriteStream, existsSync, readdirSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

/** lumberjack's backup time layout, Go's 2006-01-02T15-04-05.000. */
const STAMP = /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}$/;

function parts(path: string): { dir: string; prefix: string; ext: string } {
  const file = basename(path);
  const ext = extname(file);
  return { dir: dirname(path), prefix: `${file.slice(0, file.length - ext.length)}-`, ext };
}

/** The backup name for a rotation at `at`; the next free millisecond when two rotations share one. */
export function backupName(path: string, at: Date): string {
  const { dir, prefix, ext } = parts(path);
  for (let t = at.getTime(); ; t++) {
    const stamp = new Date(t).toISOString().replace(/:/g, '-').replace(/Z$/, '');
    const name = join(dir, `${prefix}${stamp}${ext}`);
    if (!existsSync(name) && !existsSync(`${name}.gz`)) return name;
  }
}

export interface Backup {
  /** Full path. */
  path: string;
  /** Rotation time from the name, ms since the epoch. */
  time: number;
  compressed: boolean;
}

/** The backups of path, newest first. */
export function listBackups(path: string): Backup[] {
  const { dir, prefix, ext } = parts(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: Backup[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const compressed = name.endsWith(`${ext}.gz`);
    const end = name.length - (compressed ? ext.length + 3 : ext.length);
    if (!compressed && !name.endsWith(ext)) continue;
    const stamp = name.slice(prefix.length, end);
    if (!STAMP.test(stamp)) continue;
    const [date, time] = stamp.split('T');
    out.push({ path: join(dir, name), time: Date.parse(`${date}T${time.replace(/-/g, ':')}Z`), compressed });
  }
  return out.sort((a, b) => b.time - a.time);
}

export interface MillOptions {
  /** Backups kept; 0 keeps all. */
  maxBackups: number;
  compress: boolean;
  /** File mode of the compressed files. */
  mode: number;
}

/** Removes the backups past maxBackups, then compresses the rest. */
export async function mill(path: string, opts: MillOptions): Promise<void> {
  // A backup and its .gz (a compression cut short before the unlink) count as one.
  const times: number[] = [];
  for (const b of listBackups(path)) {
    if (!times.includes(b.time)) times.push(b.time);
    if (opts.maxBackups > 0 && times.indexOf(b.time) >= opts.maxBackups) rmSync(b.path, { force: true });
  }
  if (!opts.compress) return;
  for (const b of listBackups(path)) {
    if (b.compressed) continue;
    const gz = `${b.path}.gz`;
    if (existsSync(gz)) {
      unlinkSync(b.path);
      continue;
    }
    const tmp = `${gz}.tmp`;
    try {
      await pipeline(createReadStream(b.path), createGzip(), createWriteStream(tmp, { mode: opts.mode }));
      renameSync(tmp, gz);
      unlinkSync(b.path);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }
}
