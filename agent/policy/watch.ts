// Watches a policy directory: a file added or changed is (re)loaded, a
// file removed takes its policies with it. Events are debounced, and the
// directory is rescanned rather than trusting each event's file name.
// Rescans run one at a time. A directory that disappears unloads its
// policies and is watched for again; nothing about it stops the agent.
import { watch, readdirSync, statSync, type FSWatcher } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../log.js';
import type { PolicyManager } from './manager.js';

const DEBOUNCE_MS = 200;
/** How often a missing directory is looked for again. */
const RETRY_MS = 2000;

export class PolicyDirWatcher {
  private readonly seen = new Map<string, number>();
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private retry?: NodeJS.Timeout;
  private scanning: Promise<void> = Promise.resolve();
  private again = false;
  private missing = false;
  private closed = false;

  constructor(private readonly dir: string, private readonly manager: PolicyManager, private readonly log: Logger) {
    this.dir = resolve(dir);
  }

  /** Loads what the directory holds, then follows its changes. */
  async start(): Promise<void> {
    await this.rescan();
    this.follow();
  }

  private follow(): void {
    if (this.closed) return;
    try {
      this.watcher = watch(this.dir, () => this.changed());
      this.watcher.on('error', () => this.lost());
    } catch {
      this.lost();
    }
  }

  private changed(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.rescan(), DEBOUNCE_MS);
  }

  /** The directory went away: its policies go, and it is looked for until it is back. */
  private lost(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.closed || this.retry) return;
    void this.rescan();
    this.retry = setInterval(() => {
      if (!this.exists()) return;
      clearInterval(this.retry);
      this.retry = undefined;
      this.follow();
      void this.rescan();
    }, RETRY_MS);
    this.retry.unref();
  }

  private exists(): boolean {
    try {
      return statSync(this.dir).isDirectory();
    } catch {
      return false;
    }
  }

  private files(): Map<string, number> {
    const out = new Map<string, number>();
    let names: string[];
    try {
      names = readdirSync(this.dir);
      if (this.missing) this.log.info({ policy_dir: this.dir }, 'policy directory is back');
      this.missing = false;
    } catch (err) {
      if (!this.missing) this.log.warn({ policy_dir: this.dir }, `policy directory unreadable, its policies unloaded: ${(err as Error).message}`);
      this.missing = true;
      if (!this.watcher || (err as NodeJS.ErrnoException).code === 'ENOENT') this.lost();
      return out;
    }
    for (const name of names) {
      if (!/\.ya?ml$/.test(name)) continue;
      const p = join(this.dir, name);
      try {
        // Anything but a directory is passed on: a FIFO or a device is refused with a reason, not skipped in silence.
        const st = statSync(p);
        if (!st.isDirectory()) out.set(p, st.mtimeMs);
      } catch {
        // Removed between the listing and the stat: the next rescan sees it gone.
      }
    }
    return out;
  }

  /** Loads changed files and unloads removed ones; a rescan asked for during one runs after it. */
  rescan(): Promise<void> {
    if (this.again) return this.scanning;
    this.again = true;
    this.scanning = this.scanning.then(async () => {
      this.again = false;
      if (this.closed) return;
      const now = this.files();
      for (const [file, mtime] of now) {
        if (this.seen.get(file) !== mtime) await this.manager.loadFile(file);
      }
      for (const file of this.seen.keys()) {
        if (!now.has(file)) this.manager.removeFile(file);
      }
      this.seen.clear();
      for (const [k, v] of now) this.seen.set(k, v);
    }).catch((err) => {
      this.log.error({ policy_dir: this.dir }, `policy directory rescan failed: ${(err as Error).message}`);
    });
    return this.scanning;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.retry);
    this.watcher?.close();
  }
}
