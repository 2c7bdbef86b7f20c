import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Answer = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

/** An OpenAI-compatible provider on loopback whose answer the test switches; it records request headers. */
export async function fakeProvider() {
  const requests: http.IncomingHttpHeaders[] = [];
  let answer: Answer = (_req, res) => json(res, { data: [] });
  const server = http.createServer((req, res) => {
    requests.push(req.headers);
    void answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    answer(next: Answer) {
      answer = next;
    },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

export function json(res: http.ServerResponse, body: unknown, status = 200) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
