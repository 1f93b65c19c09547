// The agent's control socket: a root-only Unix socket. A client sends one
// JSON request line; the agent answers with JSON lines.
//   {"op":"status"}  -> one line: the agent's status
//   {"op":"events"}  -> one line per event until the client hangs up
export const DEFAULT_SOCKET = '/run/vigil/vigil.sock';

export type Request = { op: 'status' } | { op: 'events' };

/** A line the agent sends on an events stream when it had to skip events for a slow client. */
export interface StreamNotice {
  vigil_notice: { dropped_for_slow_client: number };
}
