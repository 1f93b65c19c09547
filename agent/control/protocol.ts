// The agent's control socket: a root-only Unix socket. A client sends one
// JSON request line; the agent answers with JSON lines.
//   {"op":"status"}  -> one line: the agent's status
//   {"op":"events"}  -> one line per event until the client hangs up
//   {"op":"policy-list"}                  -> one line: the loaded policies
//   {"op":"policy-add","path":"/abs.yaml"} -> one line: the states of its policies
//   {"op":"policy-delete","name":"p"}     -> one line: {"deleted":true|false}
export const DEFAULT_SOCKET = '/run/vigil/vigil.sock';

export type Request =
  | { op: 'status' }
  | { op: 'events' }
  | { op: 'policy-list' }
  | { op: 'policy-add'; path: string }
  | { op: 'policy-delete'; name: string };

/** Answers to one-shot requests; `events` is streamed by the server itself. */
export type Handlers = { [K in Exclude<Request['op'], 'events'>]: (req: Extract<Request, { op: K }>) => unknown };

