// Exported events, in Tetragon's JSON field names (snake_case), so SIEM
// pipelines built for Tetragon read Vigil's output unchanged.

export interface TetragonCaps {
  permitted?: string[];
  effective?: string[];
  inheritable?: string[];
}

export interface TetragonCredentials {
  uid: number; gid: number; euid: number; egid: number;
  suid: number; sgid: number; fsuid: number; fsgid: number;
}

export interface TetragonPod {
  namespace: string;
  name: string;
  container?: { id: string; name?: string; image?: { id?: string; name: string }; start_time?: string; pid?: number };
  pod_labels?: Record<string, string>;
  workload?: string;
  workload_kind?: string;
}

export interface TetragonProcess {
  exec_id: string;
  pid: number;
  uid: number;
  cwd: string;
  binary: string;
  arguments: string;
  flags: string;
  start_time: string;
  auid: number;
  parent_exec_id?: string;
  tid: number;
  cap: TetragonCaps;
  process_credentials: TetragonCredentials;
  pod?: TetragonPod;
}

export interface ProcessExec {
  process: TetragonProcess;
  parent?: TetragonProcess;
  ancestors?: TetragonProcess[];
}

export interface ProcessExit {
  process: TetragonProcess;
  parent?: TetragonProcess;
  signal?: string;
  status?: number;
  time: string;
}

/** One exported event: exactly one of the kind keys is set. */
export interface TetragonEvent {
  process_exec?: ProcessExec;
  process_exit?: ProcessExit;
  node_name: string;
  time: string;
}

export const EVENT_TYPES = ['process_exec', 'process_exit'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export function eventType(ev: TetragonEvent): EventType | undefined {
  return EVENT_TYPES.find((k) => ev[k] !== undefined);
}

/** The event's subject process, whatever its kind. */
export function eventProcess(ev: TetragonEvent): TetragonProcess | undefined {
  const t = eventType(ev);
  return t ? ev[t]?.process : undefined;
}
