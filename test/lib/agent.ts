// Runs the real agent (bin/vigil.js) as a child process for end-to-end
// tests, and reads what it exported.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TetragonEvent } from '../../exporters/tetragon.js';
import { checkExportFile } from './export-lines.js';
import { SLOWDOWN } from './kernel.js';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const VIGIL = join(REPO, 'bin/vigil.js');
export const NODE_NAME = 'vigil-test';

export interface AgentHandle {
  dir: string;
  socket: string;
  /** Its bpffs pin directory. */
  pinDir: string;
  exportFile: string;
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  events: () => TetragonEvent[];
  waitFor: (pred: (ev: TetragonEvent) => boolean, what: string, timeoutMs?: number) => Promise<TetragonEvent>;
  stop: () => Promise<number | null>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls events() until one matches; throws, naming `what`, after timeoutMs. */
/** The lines of an export file the exporter has finished writing (a line still being written is left out). */
export function completeLines(text: string): string[] {
  return text.split('\n').slice(0, -1).filter(Boolean);
}

export async function pollFor(events: () => TetragonEvent[], pred: (ev: TetragonEvent) => boolean, what: string, timeoutMs = 20_000 * SLOWDOWN): Promise<TetragonEvent> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const hit = events().find(pred);
    if (hit) return hit;
    if (Date.now() > end) throw new Error(`no event: ${what} (after ${timeoutMs} ms, ${events().length} events)`);
    await sleep(50);
  }
}

/** Starts `vigil run` and resolves once it logged `ready`. */
export async function startAgent(args: string[] = [], readyTimeoutMs = 60_000 * SLOWDOWN): Promise<AgentHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-test-'));
  const socket = join(dir, 'vigil.sock');
  const exportFile = join(dir, 'events.log');
  // Each agent pins in a bpffs directory of its own, so agents of one test never adopt or prune each other's pins.
  const pinDir = `/sys/fs/bpf/${basename(dir)}`;
  const format = args.indexOf('--export-file-format');
  const tetragonJson = format < 0 || args[format + 1] === 'json';
  const child = spawn(process.execPath, [VIGIL, 'run', '--node-name', NODE_NAME, '--socket', socket,
    '--export-file', exportFile, '--output', 'none', '--pin-dir', pinDir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, sig) => resolve(code ?? (sig ? 128 : null))));

  const deadline = Date.now() + readyTimeoutMs;
  while (!err.includes('"msg":"ready"')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      cleanupPins(pinDir, socket);
      throw new Error(`agent did not become ready:\n${err}`);
    }
    await sleep(50);
  }

  const events = (): TetragonEvent[] => {
    if (!existsSync(exportFile)) return [];
    return completeLines(readFileSync(exportFile, 'utf8')).map((l) => JSON.parse(l));
  };
  return {
    dir, socket, pinDir, exportFile, child,
    stdout: () => out,
    stderr: () => err,
    events,
    waitFor: (pred, what, timeoutMs) => pollFor(events, pred, what, timeoutMs),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await exited;
      // An agent that did not stop cleanly may have left enforcement pinned.
      if (child.signalCode === 'SIGKILL' || existsSync(pinDir)) cleanupPins(pinDir, socket);
      // Every line it exported, in Tetragon's JSON, is one Tetragon would write.
      if (tetragonJson) checkExportFile(exportFile);
      return code;
    },
  };
}

/** Removes what an agent left pinned (vigil run --cleanup). */
export function cleanupPins(pinDir: string, socket: string): void {
  spawnSync(process.execPath, [VIGIL, 'run', '--cleanup', '--pin-dir', pinDir, '--socket', socket, '--no-export-file', '--output', 'none'], { stdio: 'ignore' });
}

/** Runs a command to completion; resolves with its pid, exit code and signal. */
export function runCommand(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ pid: number; code: number | null; signal: NodeJS.Signals | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    c.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.once('error', reject);
    c.once('exit', (code, signal) => resolve({ pid: c.pid!, code, signal, stdout }));
  });
}

export const isExec = (ev: TetragonEvent): boolean => ev.process_exec !== undefined;
export const isExit = (ev: TetragonEvent): boolean => ev.process_exit !== undefined;

/** Decodes a Tetragon exec id: base64 of node:ktime:pid. */
export function decodeExecId(id: string): { node: string; ktime: string; pid: number } {
  const [node, ktime, pid] = Buffer.from(id, 'base64').toString().split(':');
  return { node, ktime, pid: Number(pid) };
}
