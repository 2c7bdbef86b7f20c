import crypto from 'node:crypto';
import { shouldRenderGraphiQL, type GraphiQLOptions, type Plugin } from 'graphql-yoga';

/** Where GraphiQL's files are served; the next path segment is a hash of their content. */
const ASSETS_PATH = '/graphiql/';

/**
 * What the page and its files may do. Everything comes from this origin: scripts,
 * editor workers (same-origin URLs, no blob:), the API calls, SSE included.
 * 'unsafe-inline' styles cannot be avoided: the editor (Monaco) and GraphiQL's
 * components insert <style> elements and style attributes while running; styles cannot
 * run code. Fonts and icons are data: URLs inside GraphiQL's own stylesheet.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "worker-src 'self'",
  "connect-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  'font-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * Reads the page's options from its JSON data block (the policy allows no inline
 * script), points the editor at its workers beside this file, and renders GraphiQL
 * once the bundle after this script has loaded.
 */
const START_SCRIPT = `'use strict';
(() => {
  const options = JSON.parse(document.getElementById('graphiql-options').textContent);
  const base = new URL('.', document.currentScript.src);
  const workers = {
    editorWorkerService: new URL('editor.worker.js', base).href,
    json: new URL('json.worker.js', base).href,
    graphql: new URL('graphql.worker.js', base).href,
  };
  self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (_moduleId, label) => workers[label] };
  document.addEventListener('DOMContentLoaded', () => {
    YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), options);
  });
})();
`;

interface Asset {
  body: Uint8Array<ArrayBuffer>;
  type: string;
}

interface Assets {
  /** `/graphiql/<content hash>/` */
  base: string;
  files: Map<string, Asset>;
}

const JAVASCRIPT = 'text/javascript; charset=utf-8';

/**
 * GraphiQL's files as yoga's own offline renderer ships them (the same build the
 * hosted page loads), served from here instead of inlined into a 9 MB page. Loaded on
 * first use: a service nobody browses never holds them.
 */
async function loadAssets(): Promise<Assets> {
  const bundle = await import('@graphql-yoga/render-graphiql/graphiql');
  const icon = /^data:([^;,]+);base64,(.*)$/s.exec(bundle.favicon);
  if (!icon) throw new Error('GraphiQL: the packaged favicon is not a base64 data URL');
  const text = (content: string, type: string): Asset => ({ body: new TextEncoder().encode(content), type });
  const files = new Map<string, Asset>([
    ['start.js', text(START_SCRIPT, JAVASCRIPT)],
    ['graphiql.js', text(bundle.js, JAVASCRIPT)],
    ['graphiql.css', text(bundle.css, 'text/css; charset=utf-8')],
    ['editor.worker.js', text(bundle.editorWorkerService, JAVASCRIPT)],
    ['json.worker.js', text(bundle.jsonWorker, JAVASCRIPT)],
    ['graphql.worker.js', text(bundle.graphqlWorker, JAVASCRIPT)],
    ['favicon.ico', { body: new Uint8Array(Buffer.from(icon[2]!, 'base64')), type: icon[1]! }],
  ]);
  const hash = crypto.createHash('sha256');
  for (const [name, file] of files) hash.update(name).update(file.body);
  return { base: `${ASSETS_PATH}${hash.digest('hex').slice(0, 16)}/`, files };
}

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);

function renderPage(assets: Assets, options: GraphiQLOptions): string {
  const title = escapeHtml(options.title ?? 'GraphiQL');
  // Inside a <script> data block only "<" could end it early.
  const data = JSON.stringify(options).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<link rel="icon" href="${assets.base}favicon.ico">
<link rel="stylesheet" href="${assets.base}graphiql.css">
</head>
<body id="body" class="no-focus-outline">
<noscript>You need to enable JavaScript to run GraphiQL.</noscript>
<div id="root"></div>
<script type="application/json" id="graphiql-options">${data}</script>
<script src="${assets.base}start.js"></script>
<script src="${assets.base}graphiql.js"></script>
</body>
</html>
`;
}

/**
 * GraphiQL at the GraphQL endpoint (GET, for browsers) and its files under
 * /graphiql/<hash>/, all from installed packages: the page makes no request to any
 * other host, so it works offline and under its Content-Security-Policy.
 */
export function useGraphiQL(graphqlEndpoint: string, options: GraphiQLOptions): Plugin {
  let assets: Promise<Assets> | undefined;
  const loaded = () => (assets ??= loadAssets().catch((error: unknown) => {
    assets = undefined;
    throw error;
  }));
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method !== 'GET') return;
      if (url.pathname === graphqlEndpoint && shouldRenderGraphiQL(request)) {
        endResponse(
          new fetchAPI.Response(renderPage(await loaded(), options), {
            headers: {
              'content-type': 'text/html; charset=utf-8',
              // The page can carry the development token.
              'cache-control': 'no-store',
              ...SECURITY_HEADERS,
            },
          }),
        );
        return;
      }
      if (!url.pathname.startsWith(ASSETS_PATH)) return;
      const { base, files } = await loaded();
      const file = url.pathname.startsWith(base) ? files.get(url.pathname.slice(base.length)) : undefined;
      endResponse(
        file
          ? new fetchAPI.Response(file.body, {
              headers: {
                'content-type': file.type,
                // The path changes with the content.
                'cache-control': 'public, max-age=31536000, immutable',
                ...SECURITY_HEADERS,
              },
            })
          : new fetchAPI.Response('Not found', { status: 404, headers: { 'content-type': 'text/plain' } }),
      );
    },
  };
}
