import { badInput } from './errors.ts';

// C0/C1 control characters (tab excluded) have no place in names or identifiers.
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** A required single-line text: trimmed, 1..max characters, no control characters. */
export function requiredText(value: string | null | undefined, argument: string, max: number): string {
  if (value === null || value === undefined) throw badInput(argument, 'must not be null');
  const trimmed = value.trim();
  if (trimmed.length === 0) throw badInput(argument, 'must not be empty');
  if (trimmed.length > max) throw badInput(argument, `must be at most ${max} characters`);
  if (CONTROL_CHARACTERS.test(trimmed)) throw badInput(argument, 'must not contain control characters');
  return trimmed;
}

/** Like requiredText, but null/undefined/blank pass through as null. */
export function optionalText(value: string | null | undefined, argument: string, max: number): string | null {
  if (value === null || value === undefined || value.trim() === '') return null;
  return requiredText(value, argument, max);
}
