// A scriptable stand-in for the API server's pod list and watch, over
// plain HTTP, for the pod watch's fault tests: each request is answered by
// the test's handler, which may hold a watch open and write to it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface FakeRequest {
  watch: boolean;
  resourceVersion?: string;
  fieldSelector?: string;
  authorization?: string;
}

export type Handler = (req: FakeRequest, res: ServerResponse) => void;

export interface FakeApiServer {
  port: number;
  requests: FakeRequest[];
  /** Writes a kubeconfig for it into dir; returns its path. */
  kubeconfig(dir: string): string;
  handle(h: Handler): void;
  close(): Promise<void>;
}

export const podList = (items: object[], resourceVersion: string): string =>
  JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion }, items });

/** Answers with a JSON body (the client parses nothing without its content type). */
export const json = (res: ServerResponse, body: string, code = 200): void => {
  res.writeHead(code, { 'content-type': 'application/json' }).end(body);
};

export const watchLine = (type: string, object: object): string => `${JSON.stringify({ type, object })}\n`;

export const status = (code: number, message: string): string =>
  JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason: code === 403 ? 'Forbidden' : 'InternalError', code });

export async function fakeApiServer(): Promise<FakeApiServer> {
  let handler: Handler = (_, res) => res.writeHead(500).end();
  const requests: FakeRequest[] = [];
  const open = new Set<ServerResponse>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const r: FakeRequest = {
      watch: url.searchParams.get('watch') === 'true',
      resourceVersion: url.searchParams.get('resourceVersion') ?? undefined,
      fieldSelector: url.searchParams.get('fieldSelector') ?? undefined,
      authorization: req.headers.authorization,
    };
    requests.push(r);
    open.add(res);
    res.on('close', () => open.delete(res));
    handler(r, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    requests,
    kubeconfig(dir) {
      const path = join(dir, 'fake.kubeconfig');
      writeFileSync(path, [
        'apiVersion: v1', 'kind: Config', 'current-context: fake',
        'clusters:', `- name: fake`, '  cluster:', `    server: http://127.0.0.1:${port}`, '    insecure-skip-tls-verify: true',
        'users:', '- name: agent', '  user:', '    token: fake-token',
        'contexts:', '- name: fake', '  context: {cluster: fake, user: agent}', '',
      ].join('\n'));
      return path;
    },
    handle(h) {
      handler = h;
    },
    async close() {
      for (const res of open) res.destroy();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive sockets between requests (and one whose request is still arriving) hold close() open.
      server.closeAllConnections();
      await closed;
    },
  };
}
