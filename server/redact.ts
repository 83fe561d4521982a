// The one place that knows which query parameters carry secrets (share tokens), in any spelling:
// `share=`, `Share=`, `share[]=`, `share%5B%5D=`, `%73hare=`, `share[x]=`, repeated keys, … The
// query is split into its parameters and each parameter's *decoded* name is checked, so no raw-URL
// regex can be sidestepped by another spelling. Used for log lines and for cache keys.

/** Whether a query parameter's name (raw, as sent) names a secret. */
export function isSecretParam(rawName: string): boolean {
  let name = rawName.replace(/\+/g, ' ');
  // decode until stable (a name encoded twice still names the parameter for some parsers)
  for (let i = 0; i < 3; i++) {
    let next: string;
    try {
      next = decodeURIComponent(name);
    } catch {
      break; // malformed escapes: keep what we have (checked as is)
    }
    if (next === name) break;
    name = next;
  }
  return /share|token/i.test(name);
}

/**
 * The URL with the value of every secret query parameter replaced by `[redacted]` (`mask`, for
 * logs) or the parameter removed altogether (`drop`, for cache keys: a share token is access, not
 * content). Everything else is kept byte for byte.
 */
export function redactQuery(url: string, mode: 'mask' | 'drop' = 'mask'): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const hash = url.indexOf('#', q);
  const query = url.slice(q + 1, hash < 0 ? undefined : hash);
  const kept: string[] = [];
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    if (!isSecretParam(name)) kept.push(part);
    else if (mode === 'mask') kept.push(`${name}=[redacted]`);
  }
  const path = url.slice(0, q);
  return kept.length > 0 ? `${path}?${kept.join('&')}` : path;
}
