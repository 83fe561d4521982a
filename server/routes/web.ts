// The researcher's web page: static files from web/ (ES modules under web/js/, no build step), served at
// / without auth (the page is public; every data request it makes carries the API key or the share
// token). The allow-list is the page's files present under web/ at start-up with a served extension
// (html, js, css, svg; so not web/tsconfig.json), each registered as its own route by exact path: no
// path from a URL ever reaches the disk, so `..` or an encoded slash can only miss (404).
// Share links have the form /#/experiments/ID?share=TOKEN (see web/js/router.js).
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, posix, relative, sep } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { repoRoot } from '../../config/index.ts';

export const webDir = join(repoRoot, 'web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml; charset=utf-8',
};

/** Strict headers for the page: own scripts and styles only; figures arrive as blob: images. */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

/** The web page's share link for a token: the page reads the experiment id and token from the fragment. */
export function pageShareUrl(experimentId: string, token: string): string {
  return `/#/experiments/${experimentId}?share=${token}`;
}

/** The page's files under `dir`, as URL paths relative to it ('index.html', 'js/views/list.js', …). */
export function pageFiles(dir: string = webDir): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && TYPES[extname(entry.name)] !== undefined)
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join(posix.sep))
    .filter((path) => path.split('/').every((part) => /^[\w.-]+$/.test(part) && !part.startsWith('.')))
    .sort();
}

export async function webRoutes(app: FastifyInstance): Promise<void> {
  const send = async (reply: FastifyReply, path: string) => {
    const body = await readFile(join(webDir, ...path.split('/')));
    reply.headers(SECURITY_HEADERS).header('cache-control', 'no-cache').type(TYPES[extname(path)]);
    return reply.send(body);
  };
  app.get('/', { schema: { hide: true } }, (_request, reply) => send(reply, 'index.html'));
  for (const path of pageFiles()) {
    if (path === 'index.html') continue;
    app.get(`/${path}`, { schema: { hide: true } }, (_request, reply) => send(reply, path));
  }
}
