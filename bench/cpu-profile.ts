/**
 * Summarizes a V8 CPU profile (`.cpuprofile`, as `node --cpu-prof` writes it, e.g. with
 * BENCH_CPU_PROF_DIR): self time by origin (npm package, the service's own bundle, Node
 * internals, garbage collection, idle) and the functions with the most self time.
 *
 *   npx tsx bench/cpu-profile.ts <file.cpuprofile> [top functions, default 30] [--callers <function name>]
 *
 * `--callers` adds, for the functions of that name, the call paths their self time
 * comes from (the eight nearest frames), heaviest first.
 */
import fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function origin(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)') return 'V8 (program)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.includes('/dist/')) return 'the service (dist/)';
  if (url.startsWith('node:') || url === '') return 'Node internals';
  return url;
}

const args = process.argv.slice(2);
const callersAt = args.indexOf('--callers');
const callersOf = callersAt === -1 ? undefined : args.splice(callersAt, 2)[1];
const [file, topArg] = args;
if (!file || (callersAt !== -1 && !callersOf)) {
  console.error('usage: npx tsx bench/cpu-profile.ts <file.cpuprofile> [top] [--callers <function name>]');
  process.exit(2);
}
const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfMicros = new Map<number, number>();
profile.samples.forEach((id, i) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfMicros.values()].reduce((a, b) => a + b, 0);

function table(title: string, totals: Map<string, number>, limit: number): void {
  console.log(`\n${title}\n\n| share | ms | where |\n| ---: | ---: | --- |`);
  for (const [name, micros] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
    console.log(`| ${((100 * micros) / total).toFixed(1)} % | ${(micros / 1000).toFixed(0)} | ${name} |`);
  }
}

const byOrigin = new Map<string, number>();
const byFunction = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  const node = byId.get(id)!;
  const where = origin(node);
  byOrigin.set(where, (byOrigin.get(where) ?? 0) + micros);
  const name = `${node.callFrame.functionName || '(anonymous)'} — ${where}:${node.callFrame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
}
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`);
table('Self time by origin', byOrigin, 25);
table('Functions with the most self time', byFunction, Number(topArg ?? 30));

if (callersOf !== undefined) {
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const frame = (node: ProfileNode) => `${node.callFrame.functionName || '(anonymous)'} (${origin(node)}:${node.callFrame.lineNumber + 1})`;
  const paths = new Map<string, number>();
  for (const [id, micros] of selfMicros) {
    if (byId.get(id)!.callFrame.functionName !== callersOf) continue;
    const path: string[] = [];
    for (let at = parentOf.get(id); at !== undefined && path.length < 8; at = parentOf.get(at)) path.push(frame(byId.get(at)!));
    const key = path.join(' < ');
    paths.set(key, (paths.get(key) ?? 0) + micros);
  }
  table(`Where ${callersOf} is called from`, paths, 10);
}
