import net from 'node:net';

/** Where a connection is cut: before the matching message reaches PostgreSQL, or after (its answer is lost). */
export type CutPoint = 'before' | 'after';

/** The service's prepared statements are named `mcp_` and 24 characters (src/db/database.ts). */
const STATEMENT_NAME = /mcp_[A-Za-z0-9_-]{24}(?=\0)/g;
/** A Parse message: `P`, its length, then `name\0text\0` (a Bind has its portal's name before the statement's). */
const PARSED_STATEMENT = /P[\s\S]{4}(mcp_[A-Za-z0-9_-]{24})\0([^\0]*)\0/g;

/**
 * A TCP proxy in front of PostgreSQL that a test can cut and restore as a whole, or
 * arm to cut the one connection that next sends a statement matching a pattern. A
 * prepared statement is sent as text once per connection and then only named, so the
 * pattern is tested against the text of every statement a chunk names as well.
 */
export async function databaseProxy(target: URL) {
  const sockets = new Set<net.Socket>();
  let armed: { pattern: RegExp; point: CutPoint; cut: () => void } | undefined;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    let answering = true;
    const prepared = new Map<string, string>();
    const described = (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      for (const [, name, statement] of text.matchAll(PARSED_STATEMENT)) prepared.set(name!, statement!);
      return [text, ...[...text.matchAll(STATEMENT_NAME)].map(([name]) => prepared.get(name) ?? '')].join('\n');
    };
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (chunk: Buffer) => {
      const trap = armed;
      const text = described(chunk);
      if (trap && trap.pattern.test(text)) {
        armed = undefined;
        trap.cut();
        if (trap.point === 'before') return drop();
        // Let PostgreSQL run it, but never relay its answer.
        answering = false;
        upstream.write(chunk);
        setTimeout(drop, 200);
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (answering) client.write(chunk);
    });
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const url = new URL(target);
  url.host = `127.0.0.1:${port}`;
  return {
    /** The database's URL through the proxy. */
    url: url.toString(),
    /** Cuts the next connection that sends a statement matching `pattern`; resolves when it did. */
    cutAt(pattern: RegExp, point: CutPoint): Promise<void> {
      return new Promise((resolve) => (armed = { pattern, point, cut: resolve }));
    },
    async cut() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        sockets.clear();
      });
    },
    async restore() {
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
    close() {
      armed = undefined;
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
