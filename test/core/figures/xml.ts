// A small well-formedness check for the SVG figures: balanced tags, quoted attributes, no raw '<'
// or stray '&' in text, exactly one root element. Returns the problem, or null when well-formed.
const NAME = '[A-Za-z_][\\w.:-]*';
const TAG = new RegExp(`^<(/?)(${NAME})((?:\\s+${NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*)\\s*(/?)>`);
const ENTITY = /&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);/y;

export function xmlProblem(xml: string): string | null {
  const stack: string[] = [];
  let roots = 0;
  let i = 0;
  const text = xml.replace(/^<\?xml[^>]*\?>\s*/, '');
  while (i < text.length) {
    const c = text[i];
    if (c === '<') {
      if (text.startsWith('<!--', i)) {
        const end = text.indexOf('-->', i);
        if (end < 0) return `unclosed comment at ${i}`;
        i = end + 3;
        continue;
      }
      if (text.startsWith('<![CDATA[', i)) {
        const end = text.indexOf(']]>', i);
        if (end < 0) return `unclosed CDATA at ${i}`;
        i = end + 3;
        continue;
      }
      const m = TAG.exec(text.slice(i, i + 100_000));
      if (!m) return `malformed tag at ${i}: ${text.slice(i, i + 60)}`;
      const [all, closing, name, , selfClosing] = m;
      if (closing) {
        if (selfClosing) return `'</${name}/>' at ${i}`;
        const open = stack.pop();
        if (open !== name) return `</${name}> closes <${open}> at ${i}`;
      } else {
        if (stack.length === 0) roots++;
        if (!selfClosing) stack.push(name);
      }
      for (const value of all.matchAll(/=\s*(?:"([^"]*)"|'([^']*)')/g)) {
        const v = value[1] ?? value[2];
        for (let k = v.indexOf('&'); k >= 0; k = v.indexOf('&', k + 1)) {
          ENTITY.lastIndex = k;
          if (!ENTITY.test(v)) return `bad '&' in attribute at ${i}`;
        }
      }
      i += all.length;
      continue;
    }
    if (c === '&') {
      ENTITY.lastIndex = i;
      if (!ENTITY.test(text)) return `bad '&' at ${i}`;
    } else if (stack.length === 0 && !/\s/.test(c)) {
      return `text outside the root element at ${i}`;
    }
    i++;
  }
  if (stack.length > 0) return `unclosed <${stack.join('> <')}>`;
  if (roots !== 1) return `${roots} root elements`;
  return null;
}

/** The text content of every <text> element and of every line (<tspan>) of a multi-line one (entities decoded), in document order. */
export function svgTexts(svg: string): string[] {
  return [...svg.matchAll(/<(?:text|tspan)[^>]*>([^<]*)<\/(?:text|tspan)>/g)].map((m) =>
    m[1]
      .replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>')
      .replaceAll('&quot;', '"')
      .replaceAll('&#39;', "'")
      .replaceAll('&amp;', '&'),
  );
}
