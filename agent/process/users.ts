// User names for Tetragon's process.user (--username-metadata unix): the
// host's /etc/passwd, read through pid 1's root so that an agent in a pod
// reads the node's file. Only a process in the host's user and mount
// namespaces is named: elsewhere the host's file does not speak of its uids.
// The file is bounded, re-read when it changes, at most once a second.
import { readFileSync, statSync } from 'node:fs';
import { hostNamespaces, NS_NAMES } from './namespaces.js';

const MAX_PASSWD = 4 << 20;
const RECHECK_MS = 1000;
const USER = NS_NAMES.indexOf('user');
const MNT = NS_NAMES.indexOf('mnt');

export const USERNAME_MODES = ['disabled', 'unix'] as const;
export type UsernameMode = (typeof USERNAME_MODES)[number];

export class UserNames {
  private names = new Map<number, string>();
  private stamp = '';
  private checked = 0;
  readonly stats = { reads: 0, failures: 0 };

  constructor(private readonly paths = ['/proc/1/root/etc/passwd', '/etc/passwd'], private readonly now = Date.now) {}

  /** The name of uid for a process in these namespaces (by vigil_ns_type); undefined when it has none there. */
  lookup(uid: number, ns: readonly number[] | undefined): string | undefined {
    const host = hostNamespaces();
    if (!ns || ns[USER] !== host[USER] || ns[MNT] !== host[MNT]) return undefined;
    this.refresh();
    return this.names.get(uid);
  }

  private read(path: string): Map<number, string> {
    try {
      return parsePasswd(readFileSync(path, 'utf8'));
    } catch {
      return this.failed();
    }
  }

  private failed(): Map<number, string> {
    this.stats.failures++;
    return new Map();
  }

  private refresh(): void {
    const now = this.now();
    if (now - this.checked < RECHECK_MS) return;
    this.checked = now;
    for (const path of this.paths) {
      let st;
      try {
        st = statSync(path);
      } catch {
        continue;
      }
      const stamp = `${path}:${st.ino}:${st.size}:${st.mtimeMs}`;
      if (stamp === this.stamp) return;
      this.stamp = stamp;
      this.stats.reads++;
      this.names = st.isFile() && st.size <= MAX_PASSWD ? this.read(path) : this.failed();
      return;
    }
  }
}

/** name:password:uid:... lines; the first name of a uid wins, as getpwuid's scan finds it. */
export function parsePasswd(text: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of text.split('\n')) {
    const [name, , uid] = line.split(':', 3);
    const n = Number(uid);
    if (name && !name.startsWith('#') && uid !== undefined && /^\d+$/.test(uid) && !names.has(n)) names.set(n, name);
  }
  return names;
}
