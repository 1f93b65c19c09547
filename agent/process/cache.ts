// The agent's process cache: exec ids, parents and ancestry.
//
// A node is referenced by itself while its process lives and by each
// cached child. When the count reaches zero the node is evicted, and its
// parent loses a reference. Memory stays bounded: past `limit` nodes the
// oldest exited ones are evicted even if still referenced.
import type { Caps, CloneRecord, Creds, ExecRecord, ExitRecord, ProcessId, ProcessImage } from '../decode/records.js';
import type { TetragonBinaryProperties, TetragonNamespaces, TetragonProcess } from '../../exporters/tetragon.js';
import { vigil_exec_secure as S } from '../../kernel/abi/layouts.generated.js';
import { hostNamespaces, NS_NAMES } from './namespaces.js';
import type { UserNames } from './users.js';
import { ktimeToRfc3339 } from './clock.js';
import { flagString, capNames, argumentString } from './format.js';
import { vigil_process_flag as F } from '../../kernel/abi/layouts.generated.js';
import { dockerId, type CgroupContainer } from '../../kernel/container-id.js';

/** Room to encode an exec id's text in, without a Buffer per id. */
const idBytes = Buffer.alloc(1024);

export interface ProcessNode {
  execId: string;
  pid: number;
  ktime: bigint;
  parentExecId?: string;
  cgroupId: bigint;
  /** The container its cgroup names, when it runs in one (a clone keeps its parent's). */
  container?: CgroupContainer;
  nspid: number;
  json: TetragonProcess;
  /** process_exec's binary_properties (with --enable-process-cred), kept beside the process, which other events share. */
  binaryProperties?: TetragonBinaryProperties;
  refs: number;
  exited: boolean;
}

/** What process objects carry beyond Tetragon's defaults: its --enable-process-cred and --enable-process-ns. */
export interface ProcessFields {
  /** cap and process_credentials on every process, binary_properties on process_exec. */
  cred: boolean;
  /** ns on every process. */
  ns: boolean;
  /** user.name on processes of the host's user and mount namespaces (--username-metadata unix). */
  users?: UserNames;
}

export class ProcessCache {
  private readonly nodes = new Map<string, ProcessNode>();
  private readonly current = new Map<number, ProcessNode>();
  private readonly exitedOrder = new Set<ProcessNode>();
  readonly stats = { evicted: 0, forcedEvictions: 0, missingParent: 0 };

  /** redact, when given, rewrites each image's argument string before anything exports it. */
  constructor(
    readonly nodeName: string,
    readonly limit = 65536,
    private readonly redact?: (binary: string, args: string) => string,
    readonly fields: ProcessFields = { cred: false, ns: false },
  ) {}

  get size(): number {
    return this.nodes.size;
  }

  execIdOf(id: ProcessId): string {
    const text = `${this.nodeName}:${id.ktime}:${id.pid}`;
    if (text.length * 3 > idBytes.length) return Buffer.from(text).toString('base64');
    return idBytes.toString('base64', 0, idBytes.write(text));
  }

  /** The node of a kernel identity; by pid alone when the kernel had no ktime. */
  resolve(id: ProcessId): ProcessNode | undefined {
    // The running process of that pid, most often: no exec id to compute.
    const n = this.current.get(id.pid);
    if (n && (id.ktime === 0n || n.ktime === id.ktime)) return n;
    return id.ktime !== 0n ? this.nodes.get(this.execIdOf(id)) : undefined;
  }

  byPid(pid: number): ProcessNode | undefined {
    return this.current.get(pid);
  }

  byExecId(execId: string): ProcessNode | undefined {
    return this.nodes.get(execId);
  }

  parentOf(node: ProcessNode): ProcessNode | undefined {
    return node.parentExecId ? this.nodes.get(node.parentExecId) : undefined;
  }

  ancestors(node: ProcessNode): ProcessNode[] {
    const out: ProcessNode[] = [];
    for (let p = this.parentOf(node); p && out.length < 256; p = this.parentOf(p)) out.push(p);
    return out;
  }

  /** A new image: from an exec record, or from /proc at start-up; `container` from its cgroup. */
  addImage(img: ProcessImage, container?: CgroupContainer): ProcessNode {
    const parent = img.parent ? this.resolve(img.parent) : undefined;
    if (img.parent && !parent) this.stats.missingParent++;
    const execId = this.execIdOf(img.proc);
    const args = argumentString(img.args);
    const fileless = img.nlink === 0 && img.ino !== undefined && img.ino !== 0n;
    // A memfd lies outside every mount the process can reach: its path is the name exec was given.
    const binary = fileless && img.filename && (img.binary === '/' || img.binary === '') ? img.filename : img.binary;
    const redacted = this.redact ? this.redact(img.binary, args) : args;
    const inInitTree = img.nspid !== img.proc.pid && (img.nspid === 1 || parent?.json.in_init_tree === true);
    const json: TetragonProcess = {
      exec_id: execId,
      pid: img.proc.pid,
      uid: img.creds.euid,
      cwd: img.cwd || undefined,
      binary,
      arguments: redacted || undefined,
      flags: flagString(img.flags),
      start_time: ktimeToRfc3339(img.proc.ktime),
      auid: img.auid,
      // Tetragon's field order: the pod is attached later (agent/enrich/pods.ts).
      pod: undefined,
      docker: container ? dockerId(container.id) : undefined,
      parent_exec_id: parent?.execId ?? this.unknownParentId(img.parent),
      cap: this.fields.cred ? caps(img.caps) : undefined,
      ns: this.fields.ns && img.ns ? namespaces(img.ns) : undefined,
      tid: img.tid,
      process_credentials: this.fields.cred ? creds(img.creds) : undefined,
      user: userField(this.fields.users?.lookup(img.creds.euid, img.ns)),
      in_init_tree: inInitTree,
    };
    return this.insert({
      execId, pid: img.proc.pid, ktime: img.proc.ktime, parentExecId: parent?.execId, cgroupId: img.cgroupId, container,
      nspid: img.nspid, json, refs: 1, exited: false,
      binaryProperties: this.fields.cred ? binaryProperties(img, fileless) : undefined,
    }, parent);
  }

  addExec(rec: ExecRecord, container?: CgroupContainer): ProcessNode {
    return this.addImage(rec, container);
  }

  /**
   * The parent_exec_id of a process whose parent the cache does not hold:
   * the parent's own id when the kernel knew its start, else, as Tetragon
   * does for a process without a parent (pid 1, kthreadd), the id of pid 0.
   */
  private unknownParentId(parent: ProcessId | undefined): string {
    return parent && parent.pid > 0 && parent.ktime !== 0n ? this.execIdOf(parent) : this.execIdOf({ pid: 0, ktime: 1n });
  }

  /** A forked process: it runs its parent's image until it execs. */
  addClone(rec: CloneRecord): ProcessNode | undefined {
    const parent = this.resolve(rec.parent);
    if (!parent) {
      this.stats.missingParent++;
      return undefined;
    }
    const execId = this.execIdOf(rec.proc);
    const json: TetragonProcess = {
      ...parent.json,
      exec_id: execId,
      pid: rec.proc.pid,
      tid: rec.tid,
      flags: flagString(rec.flags | F.VIGIL_FLAG_CLONE),
      start_time: ktimeToRfc3339(rec.proc.ktime),
      // Its own pod object: the parent's names the parent's pid in the container.
      pod: undefined,
      parent_exec_id: parent.execId,
    };
    return this.insert({
      execId, pid: rec.proc.pid, ktime: rec.proc.ktime, parentExecId: parent.execId, cgroupId: parent.cgroupId,
      // The clone record has no pid namespace pid: 0, unknown, until it execs.
      container: parent.container, nspid: 0, json, refs: 1, exited: false,
    }, parent);
  }

  /** Marks the process exited; returns its node (still readable) for the exit event. */
  exit(rec: ExitRecord): ProcessNode | undefined {
    const node = this.resolve(rec.proc);
    if (!node) return undefined;
    this.retire(node);
    return node;
  }

  private insert(node: ProcessNode, parent: ProcessNode | undefined): ProcessNode {
    const previous = this.current.get(node.pid);
    if (previous && previous !== node) this.retire(previous);
    if (parent) parent.refs++;
    this.nodes.set(node.execId, node);
    this.current.set(node.pid, node);
    this.enforceLimit();
    return node;
  }

  /** Marks the node's process exited (it stays readable while referenced). */
  retire(node: ProcessNode): void {
    if (node.exited) return;
    node.exited = true;
    if (this.current.get(node.pid) === node) this.current.delete(node.pid);
    this.exitedOrder.add(node);
    this.release(node);
  }

  private release(node: ProcessNode): void {
    for (let n: ProcessNode | undefined = node; n && --n.refs <= 0;) {
      const parent = this.parentOf(n);
      this.evict(n);
      n = parent;
    }
  }

  private evict(node: ProcessNode): void {
    this.nodes.delete(node.execId);
    this.exitedOrder.delete(node);
    if (this.current.get(node.pid) === node) this.current.delete(node.pid);
    this.stats.evicted++;
  }

  private enforceLimit(): void {
    for (const node of this.exitedOrder) {
      if (this.nodes.size <= this.limit) return;
      this.stats.forcedEvictions++;
      this.evict(node);
    }
  }
}

/** What the exec changed, as Tetragon's BinaryProperties; undefined when nothing did. */
function binaryProperties(img: ProcessImage, fileless: boolean): TetragonBinaryProperties | undefined {
  const secure = img.secure ?? 0;
  const props: TetragonBinaryProperties = {};
  if (secure & S.VIGIL_EXEC_SETUID) props.setuid = img.creds.euid;
  if (secure & S.VIGIL_EXEC_SETGID) props.setgid = img.creds.egid;
  const changed: NonNullable<TetragonBinaryProperties['privileges_changed']> = [];
  if (secure & S.VIGIL_EXEC_FILE_CAP) changed.push('PRIVILEGES_RAISED_EXEC_FILE_CAP');
  if (secure & S.VIGIL_EXEC_SETUID_ROOT) changed.push('PRIVILEGES_RAISED_EXEC_FILE_SETUID');
  if (secure & S.VIGIL_EXEC_SETGID_ROOT) changed.push('PRIVILEGES_RAISED_EXEC_FILE_SETGID');
  if (changed.length) props.privileges_changed = changed;
  if (fileless) props.file = { inode: { number: String(img.ino), links: 0 } };
  return Object.keys(props).length ? props : undefined;
}

/** Namespaces by Tetragon's names; is_host where the inode is the host's (pid 1's). */
function namespaces(ns: number[]): TetragonNamespaces {
  const host = hostNamespaces();
  const out: TetragonNamespaces = {};
  NS_NAMES.forEach((name, i) => {
    if (!ns[i]) return;
    out[name] = host[i] === ns[i] ? { inum: ns[i], is_host: true } : { inum: ns[i] };
  });
  return out;
}

/** protojson leaves an empty list out. */
const list = <T>(xs: T[]): T[] | undefined => (xs.length ? xs : undefined);

function caps(c: Caps): TetragonProcess['cap'] {
  return { permitted: list(capNames(c.permitted)), effective: list(capNames(c.effective)), inheritable: list(capNames(c.inheritable)) };
}

function creds(c: Creds): TetragonProcess['process_credentials'] {
  return { uid: c.uid, gid: c.gid, euid: c.euid, egid: c.egid, suid: c.suid, sgid: c.sgid, fsuid: c.fsuid, fsgid: c.fsgid };
}

const userField = (name: string | undefined): TetragonProcess['user'] => (name === undefined ? undefined : { name });
