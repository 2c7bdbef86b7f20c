import { brandWithType } from '@pothos/core';
import type DataLoader from 'dataloader';
import type { Context } from '../../graphql/context.ts';
import { catalogEntryLoader, modelAccessLoader, workspaceLoader } from '../access/loaders.ts';
import { customProviderLoader } from '../providers/loaders.ts';
import { modelAliasLoader } from '../access/aliases.ts';
import type { ChangeEvent, ChangeSubject } from './feed.ts';

/** The GraphQL type of each kind of subject (DEFAULT_MODEL has no object of its own). */
const SUBJECT_TYPES: Record<ChangeSubject, { typename: string; load: (ctx: Context) => DataLoader<string, object | null> } | null> = {
  WORKSPACE: { typename: 'Workspace', load: workspaceLoader },
  CATALOG_ENTRY: { typename: 'CatalogEntry', load: catalogEntryLoader },
  CUSTOM_PROVIDER: { typename: 'CustomProvider', load: customProviderLoader },
  MODEL_ACCESS: { typename: 'ModelAccess', load: modelAccessLoader },
  DEFAULT_MODEL: null,
  MODEL_ALIAS: { typename: 'ModelAlias', load: modelAliasLoader },
};

export function subjectTypename(subjectType: ChangeSubject): string | null {
  return SUBJECT_TYPES[subjectType]?.typename ?? null;
}

const key = (event: Pick<ChangeEvent, 'subjectType' | 'subjectId'>) => `${event.subjectType}:${event.subjectId}`;

/** The objects the events are about, as they are now and as `ctx` may see them (null: gone). */
export type Subjects = ReadonlyMap<string, object | null>;

export function subjectOf(subjects: Subjects, event: ChangeEvent): object | null {
  return subjects.get(key(event)) ?? null;
}

/**
 * Reads the current state of every event's subject with the reader's permissions: one
 * query per kind of object for the whole batch (the request's loaders batch them).
 */
export async function resolveSubjects(ctx: Context, events: readonly ChangeEvent[]): Promise<Subjects> {
  const wanted = new Map<string, ChangeEvent>();
  for (const event of events) if (event.subjectId && SUBJECT_TYPES[event.subjectType]) wanted.set(key(event), event);
  const entries = await Promise.all(
    [...wanted].map(async ([name, event]) => {
      const type = SUBJECT_TYPES[event.subjectType]!;
      const found = await type.load(ctx).load(event.subjectId!);
      // The Node interface resolves the object's type from this brand.
      if (found) brandWithType(found, type.typename as never);
      return [name, found] as const;
    }),
  );
  return new Map(entries);
}
