import { parseArgs } from 'node:util';
import { assertSupportedRuntime, loadConfig } from './config.ts';
import { createLogger } from './observability/logger.ts';
import { resolveSecrets } from './security/secrets.ts';
import { scopedTransaction } from './db/scope.ts';
import { mintToken } from './security/tokens.ts';
import { ORGANIZATION_SCOPES, SCOPES } from './security/auth.ts';
import { requiredText } from './graphql/validation.ts';
import { NAME_MAX } from './modules/tenancy/service.ts';
import { reencryptProviderSecrets } from './modules/providers/reencrypt.ts';
import { startServices, stopServices } from './bootstrap.ts';

const USAGE = `usage:
  npm run cli -- token --subject <sub> [--org <uuid>] [--workspace <uuid>] [--scopes "<scope> ..."]
                       [--service] [--expires 12h]
  npm run cli -- org create --name <name>
  npm run cli -- reencrypt      re-seal provider and webhook secrets under the current DB_ENCRYPTION_KEY

scopes: ${SCOPES.join(' ')} (or *)
  default: every organization scope (${ORGANIZATION_SCOPES.length} of them, spelled out). platform:admin counts only on
  a token without --org (a platform token: --scopes platform:admin); on an organization's token * never includes it.`;

async function main(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      subject: { type: 'string' },
      org: { type: 'string' },
      workspace: { type: 'string' },
      scopes: { type: 'string', default: ORGANIZATION_SCOPES.join(' ') },
      service: { type: 'boolean', default: false },
      expires: { type: 'string', default: '12h' },
      name: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  assertSupportedRuntime();
  // Logs go to stderr: stdout carries the command's output (a token, JSON).
  const logger = createLogger('warn', process.stderr);
  const config = resolveSecrets(loadConfig(), logger);

  if (values.help || positionals.length === 0) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (positionals[0] === 'token') {
    if (!config.AUTH_JWT_SECRET) throw new Error('minting tokens needs AUTH_JWT_SECRET');
    const scopes = values.scopes!.split(/\s+/).filter(Boolean);
    const unknown = scopes.filter((s) => s !== '*' && !(SCOPES as readonly string[]).includes(s));
    if (unknown.length > 0) throw new Error(`unknown scopes: ${unknown.join(', ')}`);
    // The service would ignore it (SPEC §17): say so rather than mint a token that does less than asked.
    if (values.org && scopes.includes('platform:admin')) {
      throw new Error('platform:admin counts only on a token without --org; mint a platform token without --org');
    }
    const token = await mintToken(config.AUTH_JWT_SECRET, {
      subject: values.subject ?? 'cli',
      organizationId: values.org,
      workspaceId: values.workspace,
      scopes,
      actorType: values.service ? 'service' : 'user',
      expiresIn: values.expires,
      issuer: config.AUTH_ISSUER,
      audience: config.AUTH_AUDIENCE,
    });
    process.stdout.write(`${token}\n`);
    return;
  }
  if (positionals[0] === 'org' && positionals[1] === 'create') {
    const name = requiredText(values.name, 'name', NAME_MAX);
    const services = await startServices(config, logger);
    try {
      const organization = await scopedTransaction(services.database.prisma, { kind: 'platform' }, (tx) =>
        tx.organization.create({ data: { name } }),
      );
      process.stdout.write(`${JSON.stringify(organization)}\n`);
    } finally {
      await stopServices(services);
    }
    return;
  }
  if (positionals[0] === 'reencrypt') {
    const services = await startServices(config, logger);
    try {
      const count = await reencryptProviderSecrets(services.database.prisma, services.secretBox);
      process.stdout.write(`re-sealed ${count} secret(s) under the current key\n`);
    } finally {
      await stopServices(services);
    }
    return;
  }
  throw new Error(`unknown command: ${positionals.join(' ')}\n${USAGE}`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
