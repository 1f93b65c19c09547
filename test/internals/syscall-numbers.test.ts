// The x86-64 syscall numbers the sys_enter dispatcher routes by are the
// kernel UAPI header's (regenerate with node dist/scripts/gen-syscall-numbers.js).
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generateSyscallNumbers, SYSCALL_NUMBERS_FILE, UNISTD_X64 } from '../../scripts/gen-syscall-numbers.js';
import { X64_SYSCALL_NUMBERS } from '../../kernel/syscalls/numbers.generated.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

t.test('syscall-numbers.generated.ts matches the UAPI header', { skip: !existsSync(UNISTD_X64) && `${UNISTD_X64} is missing` }, async (t) => {
  t.equal(readFileSync(REPO + SYSCALL_NUMBERS_FILE, 'utf8'), generateSyscallNumbers());
});

t.test('well-known numbers', async (t) => {
  t.same([X64_SYSCALL_NUMBERS.read, X64_SYSCALL_NUMBERS.openat, X64_SYSCALL_NUMBERS.execve, X64_SYSCALL_NUMBERS.connect], [0, 257, 59, 42]);
});
