import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';

// `npm run schema:changes` (what CI runs), run as npm runs it on schemas made for each case.

const root = path.resolve(import.meta.dirname, '../..');
const script = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts[
  'schema:changes'
]!;
const current = fs.readFileSync(path.join(root, 'schema.graphql'), 'utf8');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'schema-changes-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function schemaChanges(dir: string): { status: number | null; output: string } {
  const result = spawnSync('sh', ['-c', script], {
    cwd: dir,
    env: { ...process.env, PATH: `${path.join(root, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH}` },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

let cases = 0;
/** The script's verdict on `released` → `next`, in a directory laid out like the repository. */
function compare(released: string, next: string) {
  const dir = path.join(work, String(cases++));
  fs.mkdirSync(path.join(dir, 'test', 'schema'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'test', 'schema', 'released.graphql'), released);
  fs.writeFileSync(path.join(dir, 'schema.graphql'), next);
  return schemaChanges(dir);
}

/** The schema with one line of a type replaced. */
function edit(schema: string, type: string, line: string, replacement: string): string {
  const start = schema.indexOf(`\ntype ${type} {\n`);
  const end = schema.indexOf('\n}\n', start);
  expect(start, type).toBeGreaterThan(0);
  const body = schema.slice(start, end);
  expect(body, `${type}: ${line}`).toContain(`\n  ${line}\n`);
  return schema.slice(0, start) + body.replace(`\n  ${line}\n`, replacement ? `\n  ${replacement}\n` : '\n') + schema.slice(end);
}

describe('npm run schema:changes', () => {
  it('passes on the repository: schema.graphql has no breaking change against the released schema', () => {
    const result = schemaChanges(root);
    expect(result.output).not.toMatch(/Detected \d+ breaking change/);
    expect(result.status).toBe(0);
  });

  it.each([
    ['a field removed', edit(current, 'Viewer', 'subject: String!', ''), /Field subject was removed from object type Viewer/],
    ['a field type changed', edit(current, 'Viewer', 'subject: String!', 'subject: Int!'), /Viewer\.subject changed type from String! to Int!/],
    [
      'a required argument added',
      edit(current, 'Viewer', 'subject: String!', 'subject(format: String!): String!'),
      /Argument format: String! added to field Viewer\.subject/,
    ],
  ])('fails on a breaking change: %s', (_name, next, change) => {
    const result = compare(current, next);
    expect(result.output).toMatch(change);
    expect(result.output).toMatch(/Detected 1 breaking change/);
    expect(result.status).not.toBe(0);
  });

  it('lets a field go that the released schema deprecated, printing it as dangerous', () => {
    const deprecated = edit(current, 'Viewer', 'subject: String!', 'subject: String! @deprecated(reason: "Use actorType.")');
    const result = compare(deprecated, edit(current, 'Viewer', 'subject: String!', ''));
    expect(result.output).toMatch(/⚠ +Field subject \(deprecated\) was removed from object type Viewer/);
    expect(result.output).toMatch(/No breaking changes detected/);
    expect(result.status).toBe(0);
    // Deprecating is itself not breaking.
    expect(compare(current, deprecated).status).toBe(0);
  });
});
