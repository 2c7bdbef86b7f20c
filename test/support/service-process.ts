import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { startCommand } from '../../scripts/start-command.ts';

export interface ServiceProcess {
  child: ChildProcess;
  /** The service's own process (node, started as npm start starts it). */
  pid: number;
  /** http://127.0.0.1:<port>/graphql */
  url: string;
  /** The development admin token it printed (NODE_ENV=development), if asked to wait for it. */
  token: string | undefined;
  /** Everything the process wrote to stdout and stderr. */
  output(): string;
  exited: Promise<number | null>;
  /** Signals the process (if still running), waits for its exit and removes its data directory (and, after the last one, the build). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

interface Build {
  entry: string;
  dir: string;
  /** Processes started from it and not stopped yet. */
  users: number;
}

let current: Build | undefined;

/**
 * What `npm start` runs, built once for the processes a test file runs at a time, into
 * a directory of its own so that test files building at once do not overwrite each
 * other's; removed when the last of those processes stopped.
 */
function acquireBuild(): Build {
  if (!current) {
    fs.mkdirSync('dist', { recursive: true });
    const dir = fs.mkdtempSync(path.join('dist', 'test-'));
    const entry = path.join(dir, 'main.mjs');
    execFileSync(process.execPath, ['scripts/build.mjs', entry], { stdio: 'inherit' });
    current = { entry, dir, users: 0 };
  }
  current.users++;
  return current;
}

function releaseBuild(build: Build): void {
  if (--build.users > 0) return;
  fs.rmSync(build.dir, { recursive: true, force: true });
  if (current === build) current = undefined;
}

/**
 * The service as `npm start` runs it (same node arguments and variables), on a free
 * port of 127.0.0.1 and a data directory of its own; resolves once it logs that it
 * listens (and, with `token`, once it printed its development admin token).
 */
export async function startServiceProcess(
  env: Record<string, string>,
  options: { timeoutMs?: number; token?: boolean } = {},
): Promise<ServiceProcess> {
  const build = acquireBuild();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-service-'));
  const start = startCommand(process.cwd());
  const child = spawn(process.execPath, start.args.map((arg) => (arg === 'dist/main.mjs' ? build.entry : arg)), {
    env: { ...process.env, ...start.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += String(chunk)));
  child.stderr!.on('data', (chunk) => (output += String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let stopped: Promise<number | null> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGTERM') =>
    (stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      fs.rmSync(dataDir, { recursive: true, force: true });
      releaseBuild(build);
      return code;
    })());
  // The token is printed directly and the address logged: either may come first.
  const listening = /"url":"http:\/\/localhost:(\d+)\/graphql"/;
  const tokenLine = /Development admin token[^\n]*\n(\S+)/;
  const ready = () => listening.test(output) && (!options.token || tokenLine.test(output));
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (!ready()) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const exitCode = child.exitCode;
      await stop('SIGKILL');
      throw new Error(`the service did not start (exit code ${exitCode}):\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    child,
    pid: child.pid!,
    url: `http://127.0.0.1:${listening.exec(output)![1]}/graphql`,
    token: tokenLine.exec(output)?.[1],
    output: () => output,
    exited,
    stop,
  };
}

/** POSTs an operation with a bearer token to an endpoint; resolves to its data, throws with the whole answer on any error. */
export async function postData<T = any>(url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown };
  if (!body.data || body.errors) throw new Error(JSON.stringify(body));
  return body.data;
}

export interface RawReply {
  status: number;
  body: { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] } | null;
  ms: number;
}

/**
 * POSTs a body (a string is sent as it is) to a started service's endpoint, with its
 * token unless `anonymous`; the body is null when the answer is not JSON, so that
 * assertions report the status.
 */
export async function postRaw(
  target: ServiceProcess,
  body: unknown,
  options: { anonymous?: boolean } = {},
): Promise<RawReply> {
  const started = performance.now();
  const response = await fetch(target.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(options.anonymous ? {} : { authorization: `Bearer ${target.token}` }) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: RawReply['body'] = null;
  try {
    parsed = JSON.parse(text) as RawReply['body'];
  } catch {
    // Not JSON.
  }
  return { status: response.status, body: parsed, ms: performance.now() - started };
}
