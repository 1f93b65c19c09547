// TracingPolicy argument types by what they hold, one table for the linter
// (which operators and values fit) and the compiler (how the kernel reads
// them). Aliases (u64, s32, long…) class as their canonical types.
export type ArgClass = 'int' | 'caps' | 'string' | 'file' | 'sock' | 'skb' | 'sockaddr' | 'cred' | 'opaque';

const CLASS: Readonly<Record<string, ArgClass>> = {
  int: 'int', sint8: 'int', int8: 'int', uint8: 'int', sint16: 'int', int16: 'int', uint16: 'int', uint32: 'int',
  sint32: 'int', int32: 'int', ulong: 'int', uint64: 'int', size_t: 'int', long: 'int', sint64: 'int', int64: 'int',
  s8: 'int', s16: 'int', s32: 'int', s64: 'int', u8: 'int', u16: 'int', u32: 'int', u64: 'int',
  capability: 'int', syscall64: 'int', bpf_cmd: 'int',
  kernel_cap_t: 'caps', cap_inheritable: 'caps', cap_permitted: 'caps', cap_effective: 'caps',
  string: 'string', char_buf: 'string', data_loc: 'string', net_device: 'string',
  file: 'file', fd: 'file', path: 'file', filename: 'file', dentry: 'file', linux_binprm: 'file',
  sock: 'sock', socket: 'sock', skb: 'skb', sockaddr: 'sockaddr', cred: 'cred',
};

export const argClass = (type: string): ArgClass => CLASS[type] ?? 'opaque';

/** Integers and capability sets: compared as numbers, read by value. */
export const isIntType = (type: string): boolean => argClass(type) === 'int' || argClass(type) === 'caps';

/** FileType values, as Tetragon names them, by the type's bits in i_mode (i_mode >> 12). */
export const FILE_TYPES: Readonly<Record<string, number>> = {
  fifo: 1, pipe: 1, char: 2, chr: 2, dir: 4, block: 6, blk: 6, regular: 8, reg: 8, symlink: 10, link: 10, lnk: 10, socket: 12, sock: 12,
};
