/**
 * F1: the embedded default's idle memory. Runs `npm start` (the build, as package.json's
 * start script runs it) on PGlite with an empty DATA_DIR until ready, stops it, starts
 * it again on the same data, and reads its resident memory (VmRSS) 10 s after it is
 * ready. Exits 1 when that exceeds the target (256 MiB).
 *
 *   npx tsx bench/embedded-footprint.ts        (builds first; BENCH_F1_SKIP_BUILD=1 to reuse dist/)
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCommand } from '../scripts/start-command.ts';
import { freePort, readMemory, startServer } from './processes.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MiB = 1024 * 1024;
const TARGET_MIB = 256;
const SETTLE_MS = 10_000;

export interface FootprintResult {
  firstStartMs: number;
  secondStartMs: number;
  idleRssMiB: number;
  peakRssMiB: number;
}

async function startOnce(dataDir: string) {
  const start = startCommand(ROOT);
  const port = await freePort();
  const began = Date.now();
  const server = await startServer({
    name: 'embedded',
    command: process.execPath,
    args: start.args,
    cwd: ROOT,
    // What a user's shell gives `npm start`: no DATABASE_URL, so PGlite in DATA_DIR.
    env: { PATH: process.env.PATH ?? '', HOME: os.homedir(), ...start.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    port,
    readyPath: '/readyz',
    readyTimeoutMs: 120_000,
  });
  return { server, startMs: Date.now() - began };
}

export async function measureEmbeddedFootprint(): Promise<FootprintResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-footprint-'));
  try {
    const first = await startOnce(dataDir);
    await first.server.stop();
    const second = await startOnce(dataDir);
    try {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const memory = readMemory(second.server.pid);
      return { firstStartMs: first.startMs, secondStartMs: second.startMs, idleRssMiB: memory.rss / MiB, peakRssMiB: memory.peakRss / MiB };
    } finally {
      await second.server.stop();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (!process.env.BENCH_F1_SKIP_BUILD) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const result = await measureEmbeddedFootprint();
  console.log(
    `F1 embedded (PGlite) idle RSS ${result.idleRssMiB.toFixed(0)} MiB 10 s after ready on the second start ` +
      `(peak ${result.peakRssMiB.toFixed(0)} MiB; starts ${result.firstStartMs} ms empty, ${result.secondStartMs} ms with data); target ≤ ${TARGET_MIB} MiB`,
  );
  process.exitCode = result.idleRssMiB <= TARGET_MIB ? 0 : 1;
}
