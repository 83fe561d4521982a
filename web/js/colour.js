// The viridis colour scale (Figure 1's) and the text colour that reads on it.

// viridis, 9 stops
const VIRIDIS = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];

/** @param {number} t in [0, 1] @returns {number[]} r, g, b */
function viridisRgb(t) {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  return VIRIDIS[i].map((v, k) => Math.round(v + (VIRIDIS[i + 1][k] - v) * f));
}

/** @param {number} t in [0, 1] @returns {string} */
export function viridis(t) {
  const c = viridisRgb(t);
  return `rgb(${c[0]} ${c[1]} ${c[2]})`;
}

/** The class of dark or light text, whichever reads better on viridis(t). @param {number} t */
export function inkOn(t) {
  const [r, g, b] = viridisRgb(t).map((v) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.22 ? 'ink-dark' : 'ink-light';
}
