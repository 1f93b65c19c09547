// User names (--username-metadata unix): /etc/passwd parsed as getpwuid
// reads it, re-read when the file changes, bounded, and only for processes
// of the host's user and mount namespaces.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePasswd, UserNames } from '../../agent/process/users.js';
import { hostNamespaces } from '../../agent/process/namespaces.js';

t.test('the first name of a uid wins; comments, blank and broken lines are passed over', async (t) => {
  const names = parsePasswd('root:x:0:0::/root:/bin/sh\n#nobody:x:1:\n\ntoor:x:0:0::/:/bin/sh\nbroken\nweird:x:abc:\nnobody:x:65534:65534::/:/usr/sbin/nologin');
  t.same([...names], [[0, 'root'], [65534, 'nobody']]);
});

t.test('re-read when the file changes, at most once a second; too big a file names nobody', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'vigil-passwd-')), 'passwd');
  writeFileSync(path, 'alice:x:1000:1000::/:/bin/sh\n');
  let now = 10_000;
  const users = new UserNames([path], () => now);
  const host = hostNamespaces();
  t.equal(users.lookup(1000, host), 'alice');
  writeFileSync(path, 'bob:x:1000:1000::/:/bin/sh\n');
  t.equal(users.lookup(1000, host), 'alice', 'not looked at again within the second');
  now += 1000;
  t.equal(users.lookup(1000, host), 'bob', 'the change is read');
  writeFileSync(path, 'x'.repeat((4 << 20) + 1));
  now += 1000;
  t.equal(users.lookup(1000, host), undefined);
  t.equal(users.stats.failures, 1, 'counted');
});

t.test("a process outside the host's user or mount namespace has no name", async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'vigil-passwd-')), 'passwd');
  writeFileSync(path, 'root:x:0:0::/:/bin/sh\n');
  const users = new UserNames([path]);
  const host = hostNamespaces();
  const other = (name: 'user' | 'mnt'): number[] => host.map((inum, i) => (i === (name === 'user' ? 9 : 2) ? inum + 1 : inum));
  t.equal(users.lookup(0, host), 'root');
  t.equal(users.lookup(0, other('user')), undefined);
  t.equal(users.lookup(0, other('mnt')), undefined);
  t.equal(users.lookup(0, undefined), undefined, 'namespaces unknown: no name');
});
