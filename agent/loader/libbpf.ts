// Bindings to libbpf.so.1 (Debian libbpf1) and the few libc calls the
// loader and ring buffer need, through koffi. Raw calls stay in this
// module; agent/loader/object.ts wraps them in a lifecycle.
import koffi from 'koffi';
import { VigilError } from '../errors.js';

export type Ptr = unknown;

function load(name: string): ReturnType<typeof koffi.load> {
  try {
    return koffi.load(name);
  } catch (err) {
    throw new VigilError('VIGIL_NO_LIBBPF', `cannot load ${name}: ${(err as Error).message}`, {
      hint: 'install it: apt-get install libbpf1',
    });
  }
}

const bpf = load('libbpf.so.1');
const libc = load('libc.so.6');

const PrintFn = koffi.proto('int vigil_libbpf_print(int level, const char *fmt, void *args)');

export const libbpf = {
  version: bpf.func('const char *libbpf_version_string(void)'),
  setPrint: bpf.func('void *libbpf_set_print(vigil_libbpf_print *fn)'),
  strerror: bpf.func('int libbpf_strerror(int err, _Out_ uint8_t *buf, size_t size)'),
  numPossibleCpus: bpf.func('int libbpf_num_possible_cpus(void)'),
  probeProgType: bpf.func('int libbpf_probe_bpf_prog_type(int type, const void *opts)'),
  probeHelper: bpf.func('int libbpf_probe_bpf_helper(int prog_type, int helper, const void *opts)'),

  objectOpenFile: bpf.func('void *bpf_object__open_file(const char *path, const void *opts)'),
  objectLoad: bpf.func('int bpf_object__load(void *obj)'),
  objectClose: bpf.func('void bpf_object__close(void *obj)'),
  objectBtf: bpf.func('void *bpf_object__btf(const void *obj)'),
  objectNextProgram: bpf.func('void *bpf_object__next_program(const void *obj, void *prog)'),
  objectNextMap: bpf.func('void *bpf_object__next_map(const void *obj, const void *map)'),

  programName: bpf.func('const char *bpf_program__name(const void *prog)'),
  programSectionName: bpf.func('const char *bpf_program__section_name(const void *prog)'),
  programSetAutoload: bpf.func('int bpf_program__set_autoload(void *prog, bool autoload)'),
  programAutoload: bpf.func('bool bpf_program__autoload(const void *prog)'),
  programSetLogLevel: bpf.func('int bpf_program__set_log_level(void *prog, uint32_t level)'),
  programSetLogBuf: bpf.func('int bpf_program__set_log_buf(void *prog, void *buf, size_t size)'),
  programFd: bpf.func('int bpf_program__fd(const void *prog)'),
  programAttach: bpf.func('void *bpf_program__attach(const void *prog)'),
  programAttachCgroup: bpf.func('void *bpf_program__attach_cgroup(const void *prog, int cgroup_fd)'),
  programAttachTracepoint: bpf.func('void *bpf_program__attach_tracepoint(const void *prog, const char *category, const char *name)'),
  programAttachKprobe: bpf.func('void *bpf_program__attach_kprobe(const void *prog, bool retprobe, const char *func_name)'),
  programSetAttachTarget: bpf.func('int bpf_program__set_attach_target(void *prog, int attach_prog_fd, const char *attach_func_name)'),

  linkDestroy: bpf.func('int bpf_link__destroy(void *link)'),

  mapName: bpf.func('const char *bpf_map__name(const void *map)'),
  mapFd: bpf.func('int bpf_map__fd(const void *map)'),
  mapReuseFd: bpf.func('int bpf_map__reuse_fd(void *map, int fd)'),
  mapSetMaxEntries: bpf.func('int bpf_map__set_max_entries(void *map, uint32_t max_entries)'),
  mapInitialValue: bpf.func('void *bpf_map__initial_value(void *map, _Out_ size_t *psize)'),
  mapValueSize: bpf.func('uint32_t bpf_map__value_size(const void *map)'),
  mapKeySize: bpf.func('uint32_t bpf_map__key_size(const void *map)'),
  mapMaxEntries: bpf.func('uint32_t bpf_map__max_entries(const void *map)'),
  mapType: bpf.func('int bpf_map__type(const void *map)'),

  mapUpdateElem: bpf.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
  mapLookupElem: bpf.func('int bpf_map_lookup_elem(int fd, const void *key, _Out_ void *value)'),
  mapDeleteElem: bpf.func('int bpf_map_delete_elem(int fd, const void *key)'),
  mapGetNextKey: bpf.func('int bpf_map_get_next_key(int fd, const void *key, _Out_ void *next_key)'),
  mapCreate: bpf.func('int bpf_map_create(int type, const char *name, uint32_t key_size, uint32_t value_size, uint32_t max_entries, const void *opts)'),

  btfFindByNameKind: bpf.func('int btf__find_by_name_kind(const void *btf, const char *name, uint32_t kind)'),
  btfTypeById: bpf.func('const void *btf__type_by_id(const void *btf, uint32_t id)'),
  btfNameByOffset: bpf.func('const char *btf__name_by_offset(const void *btf, uint32_t offset)'),
};

export const libc_ = {
  vsnprintf: libc.func('int vsnprintf(_Out_ uint8_t *buf, size_t size, const char *fmt, void *args)'),
  close: libc.func('int close(int fd)'),
  open: libc.func('int open(const char *path, int flags)'),
  mmap: libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)'),
  munmap: libc.func('int munmap(void *addr, size_t length)'),
  epollCreate1: libc.func('int epoll_create1(int flags)'),
  epollCtl: libc.func('int epoll_ctl(int epfd, int op, int fd, const uint8_t *event)'),
  epollWait: libc.func('int epoll_wait(int epfd, _Out_ uint8_t *events, int maxevents, int timeout)'),
  eventfd: libc.func('int eventfd(unsigned int initval, int flags)'),
  write: libc.func('intptr_t write(int fd, const uint8_t *buf, size_t count)'),
  strerror: libc.func('const char *strerror(int errnum)'),
  pthreadSigmask: libc.func('int pthread_sigmask(int how, const uint8_t *set, _Out_ uint8_t *oldset)'),
  sysconf: libc.func('long sysconf(int name)'),
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
libbpf.setPrint(printCallback);

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
