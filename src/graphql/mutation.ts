import type { InputObjectRef, ObjectRef } from '@pothos/core';
import { builder, type access, type BuilderTypes } from './builder.ts';
import type { Context } from './context.ts';
import { AuditedOperation, type AuditSpec } from '../modules/audit/record.ts';
import { databaseFailure } from './errors.ts';

/**
 * Declares a mutation `name(input: <Name>Input!): <Name>Payload!` with its access rule
 * and audit trail. The resolver makes its change through `op.commit`, which records
 * SUCCESS in the same transaction; any failure after authentication, refusals of
 * access included, is recorded as FAILURE with its error code. A lost database
 * connection answers a retryable error, or one saying the outcome is unknown when it
 * was lost while committing; `repeatable` declares that repeating a call that did
 * commit is harmless (it answers CONFLICT or NOT_FOUND, or sets the same state), so
 * clients may then retry it blindly.
 */
export function defineMutation<Input extends object, Payload extends object>(
  name: string,
  options: {
    description?: string;
    access: ReturnType<typeof access>;
    audit: AuditSpec;
    repeatable: boolean;
    input: InputObjectRef<BuilderTypes, Input>;
    payload: ObjectRef<BuilderTypes, Payload>;
    resolve: (input: Input, ctx: Context, op: AuditedOperation) => Promise<Payload>;
  },
) {
  builder.mutationField(name, (t) =>
    t.field({
      description: options.description,
      type: options.payload,
      args: { input: t.arg({ type: options.input, required: true }) },
      ...options.access,
      unauthorizedResolver: async (_root, _args, ctx, _info, error) => {
        await new AuditedOperation(ctx, options.audit).fail(error);
        throw error;
      },
      // Pothos cannot relate the generic Payload to its resolver result type.
      resolve: (async (_root: unknown, args: unknown, ctx: Context): Promise<Payload> => {
        const op = new AuditedOperation(ctx, options.audit);
        try {
          const payload = await options.resolve((args as { input: Input }).input, ctx, op);
          if (!op.recorded) throw new Error(`${name} finished without committing its change`);
          return payload;
        } catch (error) {
          await op.fail(error);
          throw databaseFailure(error, { repeatable: options.repeatable }) ?? error;
        }
      }) as never,
    }),
  );
}

/** `<Name>Payload { deletedId: ID! }`, the shape every delete mutation returns. */
export function deletePayload(name: string) {
  return builder.objectRef<{ deletedId: string }>(name).implement({
    fields: (t) => ({ deletedId: t.exposeID('deletedId') }),
  });
}
