import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startServiceProcess, type ServiceProcess } from '../support/service-process.ts';

// GraphiQL as a person opens it: the built service (as `npm start` runs it, in
// development, so with its admin token pre-filled) on loopback HTTP, in headless
// Chromium that can resolve no host but 127.0.0.1.

const TIMEOUT_MS = 60_000;
/** Per test: the first page load parses 5 MB of script on a busy machine. */
const TEST_TIMEOUT_MS = 180_000;

const BROWSER_CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
const executablePath = BROWSER_CANDIDATES.find((candidate): candidate is string => !!candidate && fs.existsSync(candidate));
// .ci/run sets CI (and installs Debian's chromium): there the test must run, never skip.
const inCI = !!process.env.CI && process.env.CI !== 'false';
if (!executablePath) {
  if (inCI) throw new Error(`No Chromium found (tried ${BROWSER_CANDIDATES.filter(Boolean).join(', ')}); .ci/run installs it with apt`);
  console.warn(
    '\n*** SKIPPED: the GraphiQL browser test found no Chromium. Install it (apt-get install chromium) or set CHROMIUM_PATH. ***\n',
  );
}

/** Monaco draws spaces as no-break spaces. */
const textOf = (page: Page, selector: string) =>
  page.$eval(selector, (element) => (element.textContent ?? '').replace(/\u00a0/g, ' '));

/** Resolves once the element shows the text (no-break spaces read as spaces). */
const waitForText = (page: Page, selector: string, text: string, timeout = TIMEOUT_MS) =>
  page.waitForFunction(
    (selector, text) => (document.querySelector(selector)?.textContent ?? '').replace(/\u00a0/g, ' ').includes(text),
    { timeout },
    selector,
    text,
  );

/** A URL short enough to read in a failure (data: URLs run to megabytes). */
const shortened = (url: string) => (url.length > 120 ? `${url.slice(0, 120)}…` : url);

interface Session {
  page: Page;
  /** Every URL the page (and its workers) asked for. */
  requests: string[];
  /** Requests that failed, or answered 4xx/5xx. */
  failures: string[];
  /** Content-Security-Policy violations reported in the page. */
  violations: string[];
}

describe.skipIf(!executablePath)('GraphiQL in a real browser, offline', () => {
  let database: TestDatabase;
  let service: ServiceProcess;
  let browser: Browser;
  /** Screenshots of failed tests. */
  let artifacts: string;

  beforeAll(async () => {
    artifacts = fs.mkdtempSync(path.join(os.tmpdir(), 'graphiql-browser-'));
    database = await createTestDatabase();
    service = await startServiceProcess({ DATABASE_URL: database.databaseUrl ?? '', NODE_ENV: 'development' }, { token: true });
    browser = await puppeteer.launch({
      executablePath,
      headless: true,
      args: [
        '--no-sandbox', // CI runs as root
        '--disable-dev-shm-usage',
        // Every host but 127.0.0.1 is unresolvable: anything loaded from elsewhere fails.
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
      ],
    });
  }, 180_000);
  let artifactsKept = false;
  afterAll(async () => {
    await browser?.close();
    await service?.stop();
    await database?.drop();
    if (artifactsKept) console.error(`GraphiQL screenshots kept in ${artifacts}`);
    else if (artifacts) fs.rmSync(artifacts, { recursive: true, force: true });
  });

  /** Opens GraphiQL in a fresh browser context recording its requests; a failed test keeps its screenshot. */
  async function openGraphiQL(name: string): Promise<Session> {
    // A context of its own: GraphiQL keeps tabs and panels in local storage.
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    const session: Session = { page, requests: [], failures: [], violations: [] };
    onTestFinished(async ({ task }) => {
      if (task.result?.state === 'fail') {
        const file = path.join(artifacts, `${name}.png`);
        await page.screenshot({ path: file, fullPage: true }).catch(() => {});
        artifactsKept = true;
        console.error(`GraphiQL screenshot: ${file}\nrequests: ${session.requests.join('\n  ')}\nfailures: ${session.failures.join(', ')}`);
      }
      await context.close();
    });
    page.on('request', (request) => session.requests.push(shortened(request.url())));
    page.on('requestfailed', (request) => session.failures.push(`${shortened(request.url())} (${request.failure()?.errorText})`));
    page.on('response', (response) => {
      if (response.status() >= 400) session.failures.push(`${shortened(response.url())} (HTTP ${response.status()})`);
    });
    const recordViolation = (text: string) => {
      if (/Content.Security.Policy/i.test(text)) session.violations.push(text);
    };
    page.on('console', (message) => recordViolation(message.text()));
    // The editor's workers run under the policy their script was served with.
    page.on('workercreated', (worker) => worker.on('console', (message) => recordViolation(message.text())));
    await page.evaluateOnNewDocument(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        console.error(`Content-Security-Policy violation: ${event.violatedDirective} ${event.blockedURI}`);
      });
    });
    await page.setViewport({ width: 1400, height: 900 });
    const answer = await page.goto(service.url, { waitUntil: 'networkidle0', timeout: TIMEOUT_MS });
    expect(answer?.headers()['content-security-policy']).toMatch(/default-src 'none'.*script-src 'self'/);
    await page.waitForSelector('.graphiql-execute-button', { timeout: TIMEOUT_MS });
    return session;
  }

  /** Nothing left the machine, nothing failed, the policy refused nothing. */
  function expectStayedLocal(session: Session) {
    const offMachine = session.requests.filter((url) => {
      const { protocol, hostname } = new URL(url);
      // data: fonts and icons come from GraphiQL's own stylesheet.
      return !(protocol === 'data:' || protocol === 'blob:' || hostname === '127.0.0.1');
    });
    expect(offMachine).toEqual([]);
    expect(session.failures).toEqual([]);
    expect(session.violations).toEqual([]);
    expect(session.requests.some((url) => url.includes('/graphiql/') && url.endsWith('.worker.js'))).toBe(true);
  }

  it('loads everything from the service and runs the prefilled query from the run button', async () => {
    const session = await openGraphiQL('prefilled-query');
    expect(await textOf(session.page, '.graphiql-query-editor')).toContain('viewer');
    await session.page.click('.graphiql-execute-button');
    await waitForText(session.page, '.graphiql-response', 'Demo organization');
    const answer = await textOf(session.page, '.graphiql-response');
    expect(answer).toMatch(/"subject": "dev-admin"/);
    expect(answer).toMatch(/"name": "Demo organization"/);
    expect(answer).not.toMatch(/"errors"/);
    expectStayedLocal(session);
  }, TEST_TIMEOUT_MS);

  it('opens the docs explorer on the schema', async () => {
    const session = await openGraphiQL('docs-explorer');
    await session.page.click('.graphiql-sidebar button[aria-label="Show Documentation Explorer"]');
    await waitForText(session.page, '.graphiql-doc-explorer', 'subscription: Subscription');
    // Into the query type: its fields with their descriptions.
    const [queryType] = await session.page.$$('xpath/.//*[contains(@class, "graphiql-doc-explorer")]//a[text()="Query"]');
    expect(queryType).toBeDefined();
    await queryType!.click();
    await waitForText(session.page, '.graphiql-doc-explorer', 'changeEvents');
    expect(await textOf(session.page, '.graphiql-doc-explorer')).toContain('viewer');
    expectStayedLocal(session);
  }, TEST_TIMEOUT_MS);

  it('shows a change committed while its subscription runs', async () => {
    const session = await openGraphiQL('subscription');
    const editor = '.graphiql-query-editor textarea';
    await session.page.focus(editor);
    await session.page.keyboard.down('Control');
    await session.page.keyboard.press('KeyA');
    await session.page.keyboard.up('Control');
    // Pasted as a person would paste it (typing would fight the editor's auto-closing brackets).
    await session.page.$eval(
      editor,
      (element, text) => {
        const data = new DataTransfer();
        data.setData('text/plain', text);
        element.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
      },
      'subscription {\n  changes {\n    action\n    subjectType\n    subject { ... on Workspace { name } }\n  }\n}\n',
    );
    await waitForText(session.page, '.graphiql-query-editor', 'subscription {');
    const subscribed = session.page.waitForRequest(
      // GraphiQL subscribes over GraphQL over SSE, the document in the URL.
      (request) => request.url().startsWith(`${service.url}?`) && new URL(request.url()).searchParams.get('query')?.startsWith('subscription') === true,
      { timeout: TIMEOUT_MS },
    );
    await session.page.click('.graphiql-execute-button');
    await subscribed;
    // The stream holds what commits once the server has set the subscription up, a
    // moment after its request went out: commit until a change shows up.
    const name = `live-${crypto.randomBytes(4).toString('hex')}`;
    const deadline = Date.now() + TIMEOUT_MS;
    let shown = false;
    for (let attempt = 0; !shown && Date.now() < deadline; attempt++) {
      const response = await fetch(service.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${service.token}` },
        body: JSON.stringify({
          query: 'mutation($name: String!) { createWorkspace(input: { name: $name }) { workspace { id } } }',
          variables: { name: `${name}-${attempt}` },
        }),
      });
      expect(((await response.json()) as { errors?: unknown }).errors).toBeUndefined();
      shown = await waitForText(session.page, '.graphiql-response', name, 3_000).then(() => true, () => false);
    }
    expect(shown).toBe(true);
    const answer = await textOf(session.page, '.graphiql-response');
    expect(answer).toMatch(/"action": "CREATED"/);
    expect(answer).toMatch(/"subjectType": "WORKSPACE"/);
    expect(answer).toMatch(new RegExp(`"name": "${name}-\\d+"`));
    expectStayedLocal(session);
  }, TEST_TIMEOUT_MS);
});
