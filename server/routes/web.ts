// The researcher's web page: static files from web/ (no build step), served at / without auth (the
// page is public; every data request it makes carries the API key or the share token). Only the files
// present in web/ at start-up are served, by exact name, so no path from a URL ever reaches the disk.
// Share links have the form /#/experiments/ID?share=TOKEN (see web/app.js).
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
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

export async function webRoutes(app: FastifyInstance): Promise<void> {
  const files = readdirSync(webDir).filter((name) => TYPES[extname(name)] !== undefined);
  const send = async (reply: FastifyReply, name: string) => {
    const body = await readFile(join(webDir, name));
    reply.headers(SECURITY_HEADERS).header('cache-control', 'no-cache').type(TYPES[extname(name)]);
    return reply.send(body);
  };
  app.get('/', { schema: { hide: true } }, (_request, reply) => send(reply, 'index.html'));
  for (const name of files) {
    if (name === 'index.html') continue;
    app.get(`/${name}`, { schema: { hide: true } }, (_request, reply) => send(reply, name));
  }
}
