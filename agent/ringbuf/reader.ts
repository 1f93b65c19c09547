// Reads a BPF ring buffer the way the kernel lays it out: the consumer
// page, the producer page and the data area (mapped twice, so a record
// that wraps is still contiguous) are mmapped, and records are read with
// plain loads. The reader waits in epoll (on a worker thread, through
// koffi's async calls) only when the ring is empty.
import { libc_, errno, address, view, describeError, type Ptr } from '../../kernel/bpf/libbpf.js';
import { VigilError } from '../../kernel/errors.js';

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const EPOLL_CTL_ADD = 1;
const EPOLLIN = 1;
const EFD_NONBLOCK = 0o4000;
const BUSY_BIT = 0x80000000;
const DISCARD_BIT = 0x40000000;
const HDR_SIZE = 8;
const SC_PAGESIZE = 30;
/** The wait after a batch, and the longest it grows to while batches keep coming large. */
const BATCH_MS = 20;
const MAX_BATCH_MS = 100;
/** Records that make a batch large. */
const LARGE_BATCH = 32;

/** Called for each record: the bytes are data[offset .. offset+length), valid only during the call. */
export type RecordHandler = (data: DataView, offset: number, length: number) => void;

export class RingReader {
  private readonly page: number;
  private readonly consumerPtr: Ptr;
  private readonly producerPtr: Ptr;
  private readonly consumer: BigUint64Array;
  private readonly producer: BigUint64Array;
  private readonly data: DataView;
  private readonly mask: number;
  private readonly epfd: number;
  private readonly wakefd: number;
  private stopping = false;
  /** Records read, and records the kernel marked discarded. */
  readonly stats = { records: 0, discarded: 0, wakeups: 0 };

  constructor(private readonly fd: number, private readonly size: number, private readonly onRecord: RecordHandler) {
    this.page = Number(libc_.sysconf(SC_PAGESIZE));
    this.consumerPtr = this.mmap(this.page, PROT_READ | PROT_WRITE, 0);
    this.producerPtr = this.mmap(this.page + 2 * size, PROT_READ, this.page);
    this.consumer = new BigUint64Array(view(this.consumerPtr, this.page), 0, 1);
    const prod = view(this.producerPtr, this.page + 2 * size);
    this.producer = new BigUint64Array(prod, 0, 1);
    this.data = new DataView(prod, this.page, 2 * size);
    this.mask = size - 1;
    this.epfd = libc_.epollCreate1(0);
    this.wakefd = libc_.eventfd(0, EFD_NONBLOCK);
    for (const f of [fd, this.wakefd]) {
      const ev = Buffer.alloc(12);
      ev.writeUInt32LE(EPOLLIN, 0);
      ev.writeUInt32LE(f, 4);
      if (libc_.epollCtl(this.epfd, EPOLL_CTL_ADD, f, ev) < 0) throw this.error('epoll_ctl');
    }
  }

  private mmap(length: number, prot: number, offset: number): Ptr {
    const p = libc_.mmap(null, length, prot, MAP_SHARED, this.fd, offset);
    if (address(p) === 0n || BigInt.asIntN(64, address(p)) === -1n) throw this.error('mmap');
    return p;
  }

  private error(what: string): VigilError {
    return new VigilError('VIGIL_BPF_MAP', `ring buffer ${what} failed: ${describeError(-errno())}`);
  }

  /** Bytes the last drain() found waiting. */
  private lastBytes = 0;

  /** Reads every committed record; returns how many. */
  drain(): number {
    let cons = Number(this.consumer[0]);
    const prod = Number(Atomics.load(this.producer, 0));
    this.lastBytes = prod - cons;
    let n = 0;
    try {
      while (cons < prod) {
        const at = cons & this.mask;
        const hdr = this.data.getUint32(at, true);
        if (hdr & BUSY_BIT) break;
        const len = hdr & ~(BUSY_BIT | DISCARD_BIT);
        cons += (len + HDR_SIZE + 7) & ~7;
        n++;
        if (hdr & DISCARD_BIT) this.stats.discarded++;
        else this.onRecord(this.data, at + HDR_SIZE, len);
      }
    } finally {
      // One 64-bit store hands the space back to the kernel.
      Atomics.store(this.consumer, 0, BigInt(cons));
      this.stats.records += n;
    }
    return n;
  }

  private wait(timeoutMs: number): Promise<void> {
    const events = Buffer.alloc(12 * 2);
    return new Promise((resolve) => {
      libc_.epollWait.async(this.epfd, events, 2, timeoutMs, () => resolve());
    });
  }

  /** Reads until stop(); resolves once the ring is drained after stop.
   * While records keep coming it reads in batches every BATCH_MS, so a
   * busy ring costs a timer per batch rather than a wakeup per record;
   * once empty it sleeps in epoll. Each wakeup has a fixed price (the
   * timer, caches gone cold), so while batches keep coming large the wait
   * doubles up to MAX_BATCH_MS, as long as the ring stays far from full. */
  async run(): Promise<void> {
    let batchMs = BATCH_MS;
    while (!this.stopping) {
      const n = this.drain();
      if (n === 0) {
        batchMs = BATCH_MS;
        await this.wait(1000);
        this.stats.wakeups++;
        continue;
      }
      const busy = n >= LARGE_BATCH && this.lastBytes < this.size / 8;
      batchMs = busy ? Math.min(2 * batchMs, MAX_BATCH_MS) : BATCH_MS;
      await new Promise<void>((r) => setTimeout(r, batchMs));
    }
    this.drain();
  }

  stop(): void {
    this.stopping = true;
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n);
    libc_.write(this.wakefd, one, 8);
  }

  close(): void {
    libc_.munmap(this.consumerPtr, this.page);
    libc_.munmap(this.producerPtr, this.page + 2 * this.size);
    libc_.close(this.epfd);
    libc_.close(this.wakefd);
  }
}

