// The one binding to libbpf.so.1 (Debian libbpf1) and the few libc calls
// Vigil needs, through koffi. Raw calls stay in kernel/; kernel/bpf/object.ts
// wraps them in a lifecycle. A missing library does not fail the import:
// each of its calls then throws VIGIL_NO_LIBBPF, and libbpfProblem() says why.
import { isMainThread } from 'node:worker_threads';
import koffi from 'koffi';
import { VigilError } from '../errors.js';

export type Ptr = unknown;
type Library = ReturnType<typeof koffi.load>;

const problems = new Map<string, string>();

function load(name: string): Library | undefined {
  try {
    return koffi.load(name);
  } catch (err) {
    problems.set(name, `cannot load ${name}: ${(err as Error).message}`);
    return undefined;
  }
}

const bpf = load('libbpf.so.1');
const libc = load('libc.so.6');

/** Why libbpf cannot be used, or undefined when it can. */
export const libbpfProblem = (): string | undefined => problems.get('libbpf.so.1');

type Fn = ReturnType<Library['func']>;

/** A function of lib, or one that throws the reason lib did not load. */
function binder(lib: Library | undefined, name: string): (proto: string) => Fn {
  if (lib) return (proto) => lib.func(proto);
  const fail = (() => {
    throw new VigilError('VIGIL_NO_LIBBPF', problems.get(name) ?? `${name} is not loaded`, { hint: 'install it: apt-get install libbpf1' });
  }) as unknown as Fn;
  return () => fail;
}
const b = binder(bpf, 'libbpf.so.1');
const c = binder(libc, 'libc.so.6');

/* bpf_program__attach_uprobe_opts takes libbpf 1.1's struct bpf_uprobe_opts (newer versions only append). */
export const UprobeOpts = koffi.struct('vigil_bpf_uprobe_opts', {
  sz: 'size_t', ref_ctr_offset: 'size_t', bpf_cookie: 'uint64_t', retprobe: 'bool', func_name: 'const char *',
});
/** struct btf_type's first three words. */
export const BtfTypeHead = koffi.struct('vigil_btf_type', { name_off: 'uint32_t', info: 'uint32_t', size_or_type: 'uint32_t' });

const PrintFn = koffi.proto('int vigil_libbpf_print(int level, const char *fmt, void *args)');

export const libbpf = {
  version: b('const char *libbpf_version_string(void)'),
  setPrint: b('void *libbpf_set_print(vigil_libbpf_print *fn)'),
  strerror: b('int libbpf_strerror(int err, _Out_ uint8_t *buf, size_t size)'),
  numPossibleCpus: b('int libbpf_num_possible_cpus(void)'),
  probeProgType: b('int libbpf_probe_bpf_prog_type(int type, const void *opts)'),
  probeHelper: b('int libbpf_probe_bpf_helper(int prog_type, int helper, const void *opts)'),

  objectOpenFile: b('void *bpf_object__open_file(const char *path, const void *opts)'),
  objectLoad: b('int bpf_object__load(void *obj)'),
  objectClose: b('void bpf_object__close(void *obj)'),
  objectBtf: b('void *bpf_object__btf(const void *obj)'),
  objectNextProgram: b('void *bpf_object__next_program(const void *obj, void *prog)'),
  objectNextMap: b('void *bpf_object__next_map(const void *obj, const void *map)'),

  programName: b('const char *bpf_program__name(const void *prog)'),
  programSectionName: b('const char *bpf_program__section_name(const void *prog)'),
  programSetAutoload: b('int bpf_program__set_autoload(void *prog, bool autoload)'),
  programAutoload: b('bool bpf_program__autoload(const void *prog)'),
  programSetLogLevel: b('int bpf_program__set_log_level(void *prog, uint32_t level)'),
  programSetLogBuf: b('int bpf_program__set_log_buf(void *prog, void *buf, size_t size)'),
  programFd: b('int bpf_program__fd(const void *prog)'),
  programAttach: b('void *bpf_program__attach(const void *prog)'),
  programAttachCgroup: b('void *bpf_program__attach_cgroup(const void *prog, int cgroup_fd)'),
  programAttachTracepoint: b('void *bpf_program__attach_tracepoint(const void *prog, const char *category, const char *name)'),
  programAttachKprobe: b('void *bpf_program__attach_kprobe(const void *prog, bool retprobe, const char *func_name)'),
  programSetAttachTarget: b('int bpf_program__set_attach_target(void *prog, int attach_prog_fd, const char *attach_func_name)'),

  linkDestroy: b('int bpf_link__destroy(void *link)'),
  linkPin: b('int bpf_link__pin(void *link, const char *path)'),
  mapPin: b('int bpf_map__pin(void *map, const char *path)'),
  objGet: b('int bpf_obj_get(const char *pathname)'),
  objPin: b('int bpf_obj_pin(int fd, const char *pathname)'),
  objGetInfoByFd: b('int bpf_obj_get_info_by_fd(int bpf_fd, _Out_ uint8_t *info, _Inout_ uint32_t *info_len)'),

  mapName: b('const char *bpf_map__name(const void *map)'),
  mapFd: b('int bpf_map__fd(const void *map)'),
  mapReuseFd: b('int bpf_map__reuse_fd(void *map, int fd)'),
  mapSetMaxEntries: b('int bpf_map__set_max_entries(void *map, uint32_t max_entries)'),
  mapInitialValue: b('void *bpf_map__initial_value(void *map, _Out_ size_t *psize)'),
  mapValueSize: b('uint32_t bpf_map__value_size(const void *map)'),
  mapKeySize: b('uint32_t bpf_map__key_size(const void *map)'),
  mapMaxEntries: b('uint32_t bpf_map__max_entries(const void *map)'),
  mapType: b('int bpf_map__type(const void *map)'),

  mapUpdateElem: b('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
  mapLookupElem: b('int bpf_map_lookup_elem(int fd, const void *key, _Out_ void *value)'),
  mapDeleteElem: b('int bpf_map_delete_elem(int fd, const void *key)'),
  mapGetNextKey: b('int bpf_map_get_next_key(int fd, const void *key, _Out_ void *next_key)'),
  mapCreate: b('int bpf_map_create(int type, const char *name, uint32_t key_size, uint32_t value_size, uint32_t max_entries, const void *opts)'),

  programAttachUprobeOpts: b('void *bpf_program__attach_uprobe_opts(const void *prog, int pid, const char *binary_path, size_t func_offset, const vigil_bpf_uprobe_opts *opts)'),

  btfLoadVmlinux: b('void *btf__load_vmlinux_btf(void)'),
  btfFree: b('void btf__free(void *btf)'),
  btfTypeCnt: b('uint32_t btf__type_cnt(const void *btf)'),
  btfFindByNameKind: b('int btf__find_by_name_kind(const void *btf, const char *name, uint32_t kind)'),
  btfTypeById: b('const void *btf__type_by_id(const void *btf, uint32_t id)'),
  btfNameByOffset: b('const char *btf__name_by_offset(const void *btf, uint32_t offset)'),
};

export const libc_ = {
  vsnprintf: c('int vsnprintf(_Out_ uint8_t *buf, size_t size, const char *fmt, void *args)'),
  close: c('int close(int fd)'),
  open: c('int open(const char *path, int flags)'),
  mmap: c('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)'),
  munmap: c('int munmap(void *addr, size_t length)'),
  epollCreate1: c('int epoll_create1(int flags)'),
  epollCtl: c('int epoll_ctl(int epfd, int op, int fd, const uint8_t *event)'),
  epollWait: c('int epoll_wait(int epfd, _Out_ uint8_t *events, int maxevents, int timeout)'),
  eventfd: c('int eventfd(unsigned int initval, int flags)'),
  write: c('intptr_t write(int fd, const uint8_t *buf, size_t count)'),
  strerror: c('const char *strerror(int errnum)'),
  pthreadSigmask: c('int pthread_sigmask(int how, const uint8_t *set, _Out_ uint8_t *oldset)'),
  sysconf: c('long sysconf(int name)'),
  mount: c('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const void *data)'),
  umount: c('int umount(const char *target)'),
  getsockopt: c('int getsockopt(int fd, int level, int optname, _Out_ uint8_t *optval, _Inout_ uint32_t *optlen)'),
  openByHandleAt: c('int open_by_handle_at(int mount_fd, const uint8_t *handle, int flags)'),
  ioctlInt: c('int ioctl(int fd, unsigned long request, _Out_ int *arg)'),
};

export const errno = (): number => koffi.errno();

const SIG_BLOCK = 0;
const SIG_SETMASK = 2;

/** Runs fn with this thread's signals blocked: a signal arriving during a
 * program load makes the kernel abandon verification with EAGAIN. */
export function withSignalsBlocked<T>(fn: () => T): T {
  const all = Buffer.alloc(128, 0xff);
  const old = Buffer.alloc(128);
  libc_.pthreadSigmask(SIG_BLOCK, all, old);
  try {
    return fn();
  } finally {
    libc_.pthreadSigmask(SIG_SETMASK, old, Buffer.alloc(128));
  }
}

/** libbpf returns negative errno values; this names them. */
export function describeError(code: number): string {
  const buf = Buffer.alloc(256);
  libbpf.strerror(code, buf, buf.length);
  return buf.toString('utf8', 0, buf.indexOf(0));
}

export const view = (ptr: Ptr, length: number): ArrayBuffer => koffi.view(ptr, length) as ArrayBuffer;
export const address = (ptr: Ptr): bigint => (ptr === null ? 0n : koffi.address(ptr));
export const isNull = (ptr: Ptr): boolean => address(ptr) === 0n;
export const decodeCString = (ptr: Ptr): string => koffi.decode(ptr, 'const char *') as string;

/* libbpf's messages: kept in a bounded buffer so errors can quote them
 * (the verifier log among them), and forwarded to a sink. */
export type LibbpfLevel = 'warn' | 'info' | 'debug';
const LEVELS: LibbpfLevel[] = ['warn', 'info', 'debug'];
const recent: string[] = [];
const RECENT_MAX = 4000;
let sink: ((level: LibbpfLevel, msg: string) => void) | undefined;
// Room for a whole verifier log (libbpf asks the kernel for up to 16 MiB); untouched pages cost nothing.
const printBuf = Buffer.allocUnsafe(16 << 20);

const printCallback = koffi.register((level: number, fmt: string, args: Ptr) => {
  const n = libc_.vsnprintf(printBuf, printBuf.length, fmt, args);
  const text = printBuf.toString('utf8', 0, Math.min(Math.max(n, 0), printBuf.length - 1));
  const lvl = LEVELS[level] ?? 'debug';
  if (lvl !== 'debug') {
    recent.push(text);
    if (recent.length > RECENT_MAX) recent.splice(0, recent.length - RECENT_MAX);
  }
  sink?.(lvl, text.trimEnd());
  return 0;
}, koffi.pointer(PrintFn));
// libbpf has one print function per process. A worker thread (the policy
// checker reads BTF through libbpf) must not take it: the main thread's
// loads would then print into another thread's isolate, and into a dead one
// once that thread is gone.
if (bpf && isMainThread) libbpf.setPrint(printCallback);

export function setLibbpfSink(fn: typeof sink): void {
  sink = fn;
}

/** Runs fn and returns what libbpf printed meanwhile (the verifier log among it). */
export function captureMessages<T>(fn: () => T): { value: T; log: string } {
  recent.length = 0;
  const value = fn();
  const log = recent.join('');
  recent.length = 0;
  return { value, log };
}
