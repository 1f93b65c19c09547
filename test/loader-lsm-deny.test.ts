// The loader (kernel/bpf) with a hand-written BPF LSM program
// (kprobes/test/lsm_deny_open.bpf.c), not a policy: it denies one process the
// open of one file with EPERM, only while attached; other files and other
// processes are unaffected. LSM policies are policy-lsm-deny.test.ts.
import t from 'tap';
import { mkdtempSync, writeFileSync, openSync, closeSync, statSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject } from '../kernel/bpf/object.js';
import { lacking } from './lib/kernel.js';

const OBJECT = fileURLToPath(new URL('../bpf/test/lsm_deny_open.bpf.o', import.meta.url));

const tryOpen = (file: string): void => closeSync(openSync(file, 'r'));

t.test('an attached LSM program denies this process one file, until detached', { skip: await lacking(['bpf_lsm']) }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-lsm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [denied, other] = ['denied.txt', 'other.txt'].map((n) => {
    const p = join(dir, n);
    writeFileSync(p, `${n}\n`);
    return p;
  });
  tryOpen(denied);

  const obj = BpfObject.open(OBJECT)
    .setRodata({ target_tgid: process.pid, deny_ino: statSync(denied, { bigint: true }).ino })
    .load()
    .attach();
  let attached = true;
  t.teardown(() => attached && obj.close());

  t.throws(() => tryOpen(denied), { code: 'EPERM' }, 'open() of the file fails with EPERM');
  t.doesNotThrow(() => tryOpen(other), 'another file opens');
  const cat = spawnSync('cat', [denied], { encoding: 'utf8' });
  t.equal(cat.status, 0, `another process opens the file${cat.stderr ? `: ${cat.stderr.trim()}` : ''}`);
  t.equal(cat.stdout, 'denied.txt\n');

  obj.close();
  attached = false;
  t.doesNotThrow(() => tryOpen(denied), 'the file opens again once detached');
});
