// Watches a policy directory: a file added or changed is (re)loaded, a
// file removed takes its policies with it. Events are debounced, and the
// directory is rescanned rather than trusting each event's file name.
import { watch, readdirSync, statSync, type FSWatcher } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PolicyManager } from './manager.js';

const DEBOUNCE_MS = 200;

export class PolicyDirWatcher {
  private readonly seen = new Map<string, number>();
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;

  constructor(private readonly dir: string, private readonly manager: PolicyManager) {
    this.dir = resolve(dir);
  }

  start(): void {
    this.rescan();
    this.watcher = watch(this.dir, () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.rescan(), DEBOUNCE_MS);
    });
  }

  private files(): Map<string, number> {
    const out = new Map<string, number>();
    for (const name of readdirSync(this.dir)) {
      if (!/\.ya?ml$/.test(name)) continue;
      const p = join(this.dir, name);
      try {
        const st = statSync(p);
        if (st.isFile()) out.set(p, st.mtimeMs);
      } catch {
        // Removed between the listing and the stat: the next rescan sees it gone.
      }
    }
    return out;
  }

  rescan(): void {
    const now = this.files();
    for (const [file, mtime] of now) {
      if (this.seen.get(file) !== mtime) this.manager.loadFile(file);
    }
    for (const file of this.seen.keys()) {
      if (!now.has(file)) this.manager.removeFile(file);
    }
    this.seen.clear();
    for (const [k, v] of now) this.seen.set(k, v);
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
  }
}
