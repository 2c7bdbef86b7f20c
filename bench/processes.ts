import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

/** Every child the bench started, so that an abort can stop them (by pid, nothing broader). */
const children = new Set<ChildProcess>();

export { freePort } from '../scripts/free-port.ts';

export interface ServerProcess {
  name: string;
  pid: number;
  /** http://127.0.0.1:<port> */
  origin: string;
  /** Last lines the process wrote (stdout and stderr), for error reports. */
  output(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  port: number;
  /** Path polled until it answers 200. */
  readyPath: string;
  readyTimeoutMs: number;
}

export async function startServer(options: StartOptions): Promise<ServerProcess> {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 60) lines.splice(0, lines.length - 60);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      children.delete(child);
      resolve();
    });
  });
  const origin = `http://127.0.0.1:${options.port}`;
  const server: ServerProcess = {
    name: options.name,
    pid: child.pid!,
    origin,
    output: () => lines.join('\n'),
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, 10_000);
      await exitPromise;
      clearTimeout(timer);
    },
  };

  const deadline = Date.now() + options.readyTimeoutMs;
  for (;;) {
    if (exited) {
      throw new Error(`${options.name} exited during startup (code ${exited.code}, signal ${exited.signal}):\n${server.output()}`);
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`${options.name} was not ready within ${options.readyTimeoutMs} ms:\n${server.output()}`);
    }
    try {
      const response = await fetch(origin + options.readyPath, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.ok) return server;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/** Stops every child still running (used on abort). */
export function killAllChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

export interface MemorySample {
  /** Peak resident set since the last reset (VmHWM), bytes. */
  peakRss: number;
  /** Current resident set (VmRSS), bytes. */
  rss: number;
}

function statusField(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

export function readMemory(pid: number): MemorySample {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return { peakRss: statusField(status, 'VmHWM'), rss: statusField(status, 'VmRSS') };
}

/**
 * CPU time the process has used so far (user + system, every thread), in ms. The
 * kernel counts in clock ticks, which are 10 ms on Linux (USER_HZ = 100).
 */
export function readCpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Resets the kernel's peak-RSS mark of a process (Linux: `echo 5 > clear_refs`), so
 * that the next reading is the peak of one scenario. Returns false where that is not
 * permitted; the peak is then cumulative since the process started.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}
