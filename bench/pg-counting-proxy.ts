import net from 'node:net';

/**
 * A loopback TCP proxy in front of PostgreSQL that forwards bytes unchanged and reads
 * the frontend (client → server) protocol on the side to count what the application
 * asks of the database:
 *
 * - statements: each simple-protocol Query ('Q') plus each extended-protocol Execute
 *   ('E'). A 'Q' carrying several ';'-separated statements counts once (the bench's
 *   targets only send single statements that way).
 * - transactions: 'Q' messages whose SQL starts with BEGIN / START TRANSACTION, and
 *   Binds ('B') of a statement that does: the unnamed one last parsed, or a named one
 *   (prepared once per connection, bound every time).
 * - roundTrips: 'Q' plus Sync ('S'), the points where a client waits for the server.
 *
 * Backend → client bytes are only forwarded. TLS is not supported: the targets connect
 * without it (an SSLRequest is forwarded and the server's 'N' passes through).
 */
export interface StatementCounts {
  statements: number;
  transactions: number;
  roundTrips: number;
  queries: number;
  executes: number;
  parses: number;
  connections: number;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const SQL_PREFIX_BYTES = 24;
const TRANSACTION_START = /^\s*(BEGIN|START\s+TRANSACTION)\b/i;

class FrontendParser {
  #startup = true;
  #header = Buffer.alloc(8);
  #headerLength = 0;
  #remaining = 0;
  #type = 0;
  /** Leading bytes of the current message body (for Q and P). */
  #prefix = Buffer.alloc(256);
  #prefixLength = 0;
  #prefixWanted = 0;
  /** Whether the last unnamed Parse, and each named one, starts a transaction. */
  #unnamedStartsTransaction = false;
  readonly #namedStartingTransaction = new Set<string>();

  constructor(private readonly counts: StatementCounts) {}

  feed(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#remaining > 0) {
        const n = Math.min(this.#remaining, chunk.length - i);
        if (this.#prefixLength < this.#prefixWanted) {
          const take = Math.min(n, this.#prefixWanted - this.#prefixLength);
          chunk.copy(this.#prefix, this.#prefixLength, i, i + take);
          this.#prefixLength += take;
        }
        i += n;
        this.#remaining -= n;
        if (this.#remaining === 0) this.#finish();
        continue;
      }
      const need = this.#startup ? 8 : 5;
      const n = Math.min(need - this.#headerLength, chunk.length - i);
      chunk.copy(this.#header, this.#headerLength, i, i + n);
      this.#headerLength += n;
      i += n;
      if (this.#headerLength < need) break;
      this.#headerLength = 0;
      if (this.#startup) {
        const length = this.#header.readInt32BE(0);
        const code = this.#header.readInt32BE(4);
        this.#type = 0;
        this.#remaining = length - 8;
        this.#prefixWanted = 0;
        // After SSLRequest/GSSENCRequest the client sends the real startup message.
        if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) this.#startup = false;
      } else {
        this.#type = this.#header[0]!;
        this.#remaining = this.#header.readInt32BE(1) - 4;
        const t = String.fromCharCode(this.#type);
        // Parse: statement name (NUL-terminated), then the query; keep enough for both.
        // Bind: portal name, then the statement name (both NUL-terminated).
        this.#prefixWanted = t === 'Q' ? SQL_PREFIX_BYTES : t === 'P' || t === 'B' ? this.#prefix.length : 0;
      }
      this.#prefixLength = 0;
      if (this.#remaining <= 0) {
        this.#remaining = 0;
        this.#finish();
      }
    }
  }

  #finish(): void {
    const c = this.counts;
    switch (String.fromCharCode(this.#type)) {
      case 'Q':
        c.queries++;
        c.statements++;
        c.roundTrips++;
        if (TRANSACTION_START.test(this.#prefix.toString('utf8', 0, this.#prefixLength))) c.transactions++;
        break;
      case 'E':
        c.executes++;
        c.statements++;
        break;
      case 'S':
        c.roundTrips++;
        break;
      case 'P': {
        c.parses++;
        const body = this.#prefix.subarray(0, this.#prefixLength);
        const nul = body.indexOf(0);
        if (nul < 0) break;
        const name = body.toString('utf8', 0, nul);
        const starts = TRANSACTION_START.test(body.toString('utf8', nul + 1, Math.min(body.length, nul + 1 + SQL_PREFIX_BYTES)));
        if (name === '') this.#unnamedStartsTransaction = starts;
        else if (starts) this.#namedStartingTransaction.add(name);
        break;
      }
      case 'B': {
        const body = this.#prefix.subarray(0, this.#prefixLength);
        const portalEnd = body.indexOf(0);
        const statementEnd = portalEnd < 0 ? -1 : body.indexOf(0, portalEnd + 1);
        if (statementEnd < 0) break;
        const name = body.toString('utf8', portalEnd + 1, statementEnd);
        if (name === '' ? this.#unnamedStartsTransaction : this.#namedStartingTransaction.has(name)) c.transactions++;
        break;
      }
      default:
        break;
    }
    this.#prefixLength = 0;
    this.#prefixWanted = 0;
  }
}

export class CountingProxy {
  readonly counts: StatementCounts = {
    statements: 0,
    transactions: 0,
    roundTrips: 0,
    queries: 0,
    executes: 0,
    parses: 0,
    connections: 0,
  };
  #server?: net.Server;
  #sockets = new Set<net.Socket>();

  constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {}

  /** Listens on an ephemeral loopback port and returns it. */
  async start(): Promise<number> {
    const server = net.createServer((client) => this.#accept(client));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return (server.address() as net.AddressInfo).port;
  }

  snapshot(): StatementCounts {
    return { ...this.counts };
  }

  /**
   * Waits until no client message has passed for `quietMs` (requests still in flight
   * on the server after the load generator stopped have finished), at most `maxMs`.
   */
  async settle(quietMs = 300, maxMs = 5_000): Promise<void> {
    const deadline = Date.now() + maxMs;
    let last = this.#lastActivity;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, quietMs));
      if (this.#lastActivity === last || Date.now() > deadline) return;
      last = this.#lastActivity;
    }
  }

  #lastActivity = 0;

  #accept(client: net.Socket): void {
    this.counts.connections++;
    const parser = new FrontendParser(this.counts);
    const upstream = net.connect(this.upstreamPort, this.upstreamHost);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.#sockets.add(client);
    this.#sockets.add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on('data', (chunk: Buffer) => {
      this.#lastActivity++;
      parser.feed(chunk);
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.pipe(client);
    client.on('end', () => upstream.end());
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export function diffCounts(after: StatementCounts, before: StatementCounts): StatementCounts {
  return {
    statements: after.statements - before.statements,
    transactions: after.transactions - before.transactions,
    roundTrips: after.roundTrips - before.roundTrips,
    queries: after.queries - before.queries,
    executes: after.executes - before.executes,
    parses: after.parses - before.parses,
    connections: after.connections - before.connections,
  };
}
