import { readdirSync, readFileSync } from 'node:fs';

const root = new URL('../../', import.meta.url);

/** A file of the repository, as text. */
export const readPage = (path: string) => readFileSync(new URL(path, root), 'utf8');

/** The pages a reader reads: README.md and every page of docs/. */
export const pages = ['README.md', ...readdirSync(new URL('docs/', root)).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

/** The fenced blocks of one language in a page, each with where it starts (`page:line`). */
export function fencedBlocks(page: string, language: string): { where: string; text: string }[] {
  const found: { where: string; text: string }[] = [];
  const lines = readPage(page).split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```' + language) continue;
    const start = i + 1;
    while (++i < lines.length && lines[i]!.trim() !== '```');
    found.push({ where: `${page}:${start + 1}`, text: lines.slice(start, i).join('\n') });
  }
  return found;
}
