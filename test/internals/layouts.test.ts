// The decoder's record layouts come from one definition, the C header.
// This fails when kernel/abi/layouts.generated.ts drifts from what clang
// compiled, or when a loaded object's BTF disagrees with it.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { generateLayouts, LAYOUTS_FILE, LAYOUTS_OBJECT } from '../../scripts/gen-layouts.js';
import * as L from '../../kernel/abi/layouts.generated.js';
import { REPO } from '../lib/agent.js';

t.test('layouts.generated.ts matches the BTF of events.h (run scripts/gen-layouts after changing the header)', async (t) => {
  const fresh = generateLayouts(join(REPO, LAYOUTS_OBJECT));
  t.equal(readFileSync(join(REPO, LAYOUTS_FILE), 'utf8'), fresh);
});

t.test("process.bpf.o's records have the generated layouts", async (t) => {
  const json = execFileSync('bpftool', ['btf', 'dump', 'file', join(REPO, 'dist/bpf/process.bpf.o'), 'format', 'raw', '-j'], {
    encoding: 'utf8', maxBuffer: 64 << 20,
  });
  const types: { kind: string; name: string; size: number; members?: { name: string; bits_offset: number }[] }[] = JSON.parse(json).types;
  const checked = ['vigil_msg_header', 'vigil_msg_exec', 'vigil_process_id', 'vigil_process_entry', 'vigil_creds', 'vigil_caps', 'vigil_counter'] as const;
  for (const name of checked) {
    const bt = types.find((x) => x.kind === 'STRUCT' && x.name === name);
    t.ok(bt, `${name} is in the object's BTF`);
    if (!bt) continue;
    const gen = L[name];
    t.equal(bt.size, gen.sizeof, `sizeof ${name}`);
    const offsets = Object.fromEntries((bt.members ?? []).map((m) => [m.name, m.bits_offset / 8]));
    t.same(offsets, gen.offsetof, `offsets of ${name}`);
  }
});

t.test("the generic hook objects' records and configuration have the generated layouts", async (t) => {
  for (const object of ['generic_tracepoint', 'generic_kprobe', 'generic_fentry', 'generic_lsm']) {
    const json = execFileSync('bpftool', ['btf', 'dump', 'file', join(REPO, `dist/bpf/${object}.bpf.o`), 'format', 'raw', '-j'], {
      encoding: 'utf8', maxBuffer: 64 << 20,
    });
    const types: { kind: string; name: string; size: number; members?: { name: string; bits_offset: number }[] }[] = JSON.parse(json).types;
    for (const name of ['vigil_msg_generic', 'vigil_hook_config', 'vigil_selector', 'vigil_string_key', 'vigil_lpm_key', 'vigil_binary'] as const) {
      const bt = types.find((x) => x.kind === 'STRUCT' && x.name === name);
      if (!bt) {
        t.fail(`${name} is not in ${object}'s BTF`);
        continue;
      }
      t.equal(bt.size, L[name].sizeof, `${object}: sizeof ${name}`);
      t.same(Object.fromEntries((bt.members ?? []).map((m) => [m.name, m.bits_offset / 8])), L[name].offsetof, `${object}: offsets of ${name}`);
    }
  }
});
