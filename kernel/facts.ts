// What the policy compiler needs to know about the running kernel, as one
// object: the probed features, the architecture, tracepoint layouts, the
// host's namespaces and which functions fmod_ret may change. The compiler
// takes it as input, so a plan is complete before anything is loaded, and
// tests can hand it a kernel described as data.
import { readFileSync } from 'node:fs';
import { cgroup2Root } from './cgroup.js';
import type { FeatureResult } from './features.js';
import { hostNamespace, type NamespaceType } from './namespaces.js';
import { tracepointFields, type TracepointField } from './tracefs.js';

export type FeatureState = Pick<FeatureResult, 'feature' | 'works' | 'reason'>;

export interface KernelFacts {
  /** Node's process.arch: x64, arm64. */
  arch: string;
  features: readonly FeatureState[];
  /** A tracepoint's fields, common fields first; undefined when it does not exist. */
  tracepointFields(subsystem: string, event: string): TracepointField[] | undefined;
  /** host_ns: the inode number of the host's namespace of a type; throws when unreadable. */
  hostNamespace(type: NamespaceType): number;
  /** Whether fmod_ret may change fn's return value; undefined when the kernel does not say. */
  modifiableReturn(fn: string): boolean | undefined;
  /** The cgroup v2 root, where host-wide cgroup programs attach; throws VIGIL_MOUNT when there is none. */
  cgroupRoot(): string;
}

const ERROR_INJECTION = '/sys/kernel/debug/error_injection/list';
let injectable: Set<string> | null | undefined;

/**
 * The kernel checks fmod_ret targets against its error-injection list,
 * and lets security_* hooks through. The list is in debugfs, when mounted.
 */
function modifiableReturn(fn: string): boolean | undefined {
  if (fn.startsWith('security_')) return true;
  if (injectable === undefined) {
    try {
      injectable = new Set(readFileSync(ERROR_INJECTION, 'utf8').split('\n').map((l) => l.trim().split(/\s+/)[0]).filter(Boolean));
    } catch {
      injectable = null;
    }
  }
  return injectable ? injectable.has(fn) : undefined;
}

/** The running kernel, with its probed (or disabled) features. */
export function runningKernel(features: readonly FeatureState[]): KernelFacts {
  return {
    arch: process.arch, features, tracepointFields: (s, e) => tracepointFields(s, e), hostNamespace, modifiableReturn, cgroupRoot: cgroup2Root,
  };
}
