import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assertSupportedRuntime } from '../../src/config.ts';

const manifest = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  engines: { node: string };
  optionalDependencies: Record<string, string>;
};

describe('runtime', () => {
  it('runs on the Node.js 24 the project brings as a dependency', () => {
    expect(process.versions.node).toMatch(/^24\./);
    expect(manifest.optionalDependencies.node).toMatch(/^\^24\./);
    expect(manifest.engines.node).toBe('>=24');
  });

  it('refuses to start on an older Node.js, naming both versions', () => {
    expect(() => assertSupportedRuntime('20.20.2')).toThrow(/Node\.js 24 or later is required, this is 20\.20\.2/);
    expect(() => assertSupportedRuntime('24.0.0')).not.toThrow();
  });
});
