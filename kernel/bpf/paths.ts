// Where the build puts the compiled BPF objects: dist/bpf, beside dist/agent.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const BPF_DIR = fileURLToPath(new URL('../../bpf/', import.meta.url));

export const bpfObjectPath = (name: string): string => join(BPF_DIR, `${name}.bpf.o`);
