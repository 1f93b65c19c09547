// A policy file named on the command line (--policy FILE): loaded at start,
// and again on reload when it changed.
import { statSync } from 'node:fs';
import type { PolicyManager } from './manager.js';

export class PolicyFile {
  private mtime?: number;

  constructor(private readonly file: string, private readonly manager: PolicyManager) {}

  async rescan(): Promise<void> {
    let mtime: number | undefined;
    try {
      mtime = statSync(this.file).mtimeMs;
    } catch {
      mtime = undefined;
    }
    if (mtime !== undefined && mtime === this.mtime) return;
    this.mtime = mtime;
    if (mtime === undefined) this.manager.removeFile(this.file);
    else await this.manager.loadFile(this.file);
  }
}
