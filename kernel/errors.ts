// Every error Vigil reports on purpose has a code from this registry.
// docs/errors.md lists the same codes; test/internals/errors.test.ts keeps
// the two in step.

export const ERROR_CODES = {
  VIGIL_NOT_ROOT: 'Vigil loads BPF programs and must run as root',
  VIGIL_NO_BTF: 'the kernel exposes no BTF (/sys/kernel/btf/vmlinux)',
  VIGIL_NO_LIBBPF: 'libbpf.so.1 cannot be loaded',
  VIGIL_MOUNT: 'a kernel file system Vigil needs is not mounted and could not be mounted',
  VIGIL_BPF_OPEN: 'libbpf could not open a BPF object',
  VIGIL_BPF_LOAD: 'the kernel refused to load a BPF program (the verifier log is attached)',
  VIGIL_BPF_ATTACH: 'a loaded BPF program could not be attached',
  VIGIL_BPF_MAP: 'a BPF map operation failed',
  VIGIL_NOT_SUPPORTED: 'the running kernel lacks a feature this needs',
  VIGIL_AGENT_UNREACHABLE: 'no agent answers on the control socket',
  VIGIL_USAGE: 'the command line is invalid',
  VIGIL_POLICY_INVALID: 'a policy or rule set is invalid (the message names the field)',
  VIGIL_LIMIT: 'a limit of Vigil itself is reached (counter slots, followChildren bits)',
  VIGIL_SCOPE: 'a cgroup cannot enter a policy\'s scope (not a cgroup v2 directory, the root, or deeper than the kernel checks)',
  VIGIL_INTERNAL: 'Vigil broke one of its own rules: a bug (the message says which)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class VigilError extends Error {
  readonly code: ErrorCode;
  /** libbpf's messages around the failure, the verifier log among them. */
  readonly log?: string;
  /** What to do about it, in one line. */
  readonly hint?: string;
  /** The policy field it is about, e.g. spec.kprobes[0].selectors[1]; the message then starts with it. */
  readonly field?: string;

  constructor(code: ErrorCode, message: string, extra: { log?: string; hint?: string; cause?: unknown; field?: string } = {}) {
    super(extra.field ? `${extra.field}: ${message}` : message, { cause: extra.cause });
    this.name = 'VigilError';
    this.code = code;
    this.log = extra.log;
    this.hint = extra.hint;
    this.field = extra.field;
  }

  /** The message without the field path it starts with. */
  get detail(): string {
    return this.field ? this.message.slice(this.field.length + 2) : this.message;
  }

  /** One line for a terminal: code, message and hint. */
  oneLine(): string {
    return `${this.code}: ${this.message}${this.hint ? ` (${this.hint})` : ''}`;
  }
}

/** A kernel feature is missing; names the feature and how it was probed. */
export class NotSupportedError extends VigilError {
  readonly feature: string;
  constructor(feature: string, reason: string) {
    super('VIGIL_NOT_SUPPORTED', `${feature} is not supported by this kernel: ${reason}`);
    this.feature = feature;
  }
}
