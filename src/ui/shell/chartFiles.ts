// A chart as files for a paper or a spreadsheet: its SVG with every style written inline (the
// page's stylesheet and CSS variables do not travel with a file), a PNG drawn from that SVG, and
// its data as CSV. recharts draws the legend as HTML beside the SVG, so the legend is redrawn
// into the SVG at the place it had on the page.

/** SVG properties that reach a file only when written on the element. Most are inherited. */
const INHERITED = [
  'fill',
  'fill-opacity',
  'stroke',
  'stroke-width',
  'stroke-opacity',
  'stroke-dasharray',
  'stroke-linecap',
  'stroke-linejoin',
  'font-family',
  'font-size',
  'font-weight',
  'font-style',
  'text-anchor',
  'dominant-baseline',
  'visibility',
] as const;
/** Not inherited: written when they differ from the initial value. */
const OWN: Record<string, string> = { opacity: '1', display: 'inline' };

const SVG_NS = 'http://www.w3.org/2000/svg';

function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' && !Number.isFinite(value)) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Rows of a chart's data as CSV: a column per key (in the order first seen), numbers at full precision. */
export function chartCsv(rows: readonly object[]): string {
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    for (const key of Object.keys(row)) {
      if (!seen.has(key)) {
        seen.add(key);
        columns.push(key);
      }
    }
  }
  const lines = [columns.map(csvField).join(',')];
  for (const row of rows) {
    const r = row as Record<string, unknown>;
    lines.push(columns.map((c) => csvField(r[c])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** The chart's own SVG (not a legend icon's) inside a figure. */
export function chartSurface(figure: Element): SVGSVGElement | null {
  return figure.querySelector<SVGSVGElement>('.recharts-wrapper > svg');
}

function inlineStyles(source: Element, copy: Element, parent: CSSStyleDeclaration | null): void {
  const computed = getComputedStyle(source);
  const declarations: string[] = [];
  for (const property of INHERITED) {
    const value = computed.getPropertyValue(property);
    if (value && (parent === null || parent.getPropertyValue(property) !== value))
      declarations.push(`${property}:${value}`);
  }
  for (const [property, initial] of Object.entries(OWN)) {
    const value = computed.getPropertyValue(property);
    if (value && value !== initial) declarations.push(`${property}:${value}`);
  }
  // Attributes such as stroke="var(--grid)" mean nothing outside the page; the inline style wins anyway.
  for (const attribute of [...copy.attributes])
    if (attribute.value.includes('var(')) copy.removeAttribute(attribute.name);
  copy.removeAttribute('class');
  if (declarations.length > 0) copy.setAttribute('style', declarations.join(';'));
  const sources = source.children;
  const copies = copy.children;
  for (let i = 0; i < sources.length; i++) {
    const s = sources[i];
    const c = copies[i];
    if (s && c) inlineStyles(s, c, computed);
  }
}

/** The nearest background that is not transparent, so the file looks as the card did. */
function backgroundOf(element: Element): string {
  for (let e: Element | null = element; e; e = e.parentElement) {
    const color = getComputedStyle(e).backgroundColor;
    if (color && color !== 'transparent' && !/^rgba\(.*,\s*0\)$/.test(color)) return color;
  }
  return '#ffffff';
}

/** The legend's items (an icon and a label each), drawn where they were, relative to the chart. */
function legendOf(figure: Element, origin: DOMRect): SVGGElement | null {
  const items = figure.querySelectorAll('.recharts-legend-item');
  if (items.length === 0) return null;
  const group = document.createElementNS(SVG_NS, 'g');
  for (const item of items) {
    const icon = item.querySelector('svg');
    if (icon) {
      const box = icon.getBoundingClientRect();
      const copy = icon.cloneNode(true) as SVGSVGElement;
      inlineStyles(icon, copy, null);
      copy.setAttribute('x', String(box.left - origin.left));
      copy.setAttribute('y', String(box.top - origin.top));
      copy.setAttribute('width', String(box.width));
      copy.setAttribute('height', String(box.height));
      group.append(copy);
    }
    const label = item.querySelector('.recharts-legend-item-text') ?? item;
    const box = label.getBoundingClientRect();
    const style = getComputedStyle(label);
    const text = document.createElementNS(SVG_NS, 'text');
    text.textContent = label.textContent ?? '';
    text.setAttribute('x', String(box.left - origin.left));
    // The text's baseline sits about a fifth of the line above the box's bottom.
    text.setAttribute('y', String(box.top - origin.top + box.height * 0.8));
    text.setAttribute(
      'style',
      `fill:${style.color};font-family:${style.fontFamily};font-size:${style.fontSize};font-weight:${style.fontWeight}`,
    );
    group.append(text);
  }
  return group;
}

/** The chart of a figure as a standalone SVG document, with its size, background, legend and caption. */
export function chartSvg(figure: Element): { svg: string; width: number; height: number } {
  const surface = chartSurface(figure);
  if (!surface) throw new Error('This chart has nothing drawn yet.');
  const box = surface.getBoundingClientRect();
  const width = Math.ceil(box.width);
  const height = Math.ceil(box.height);
  const copy = surface.cloneNode(true) as SVGSVGElement;
  inlineStyles(surface, copy, null);
  copy.setAttribute('xmlns', SVG_NS);
  copy.setAttribute('width', String(width));
  copy.setAttribute('height', String(height));
  copy.setAttribute('viewBox', `0 0 ${width} ${height}`);
  copy.removeAttribute('tabindex');

  const background = document.createElementNS(SVG_NS, 'rect');
  background.setAttribute('width', '100%');
  background.setAttribute('height', '100%');
  background.setAttribute('fill', backgroundOf(figure));
  copy.prepend(background);
  const caption = figure.querySelector('figcaption')?.textContent?.trim();
  if (caption) {
    const title = document.createElementNS(SVG_NS, 'title');
    title.textContent = caption;
    copy.prepend(title);
  }
  const legend = legendOf(figure, box);
  if (legend) copy.append(legend);
  const svg = `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(copy)}\n`;
  return { svg, width, height };
}

/** The SVG drawn onto a canvas at `scale` times its size (2: sharp on a printed page and a HiDPI screen). */
export async function svgToPng(svg: string, width: number, height: number, scale = 2): Promise<Blob> {
  const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
  try {
    const image = new Image();
    image.src = url;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    const context = canvas.getContext('2d');
    if (!context) throw new Error('This browser gave no 2D canvas to draw the PNG on.');
    context.drawImage(image, 0, 0, canvas.width, canvas.height);
    return await new Promise<Blob>((resolve, reject) =>
      canvas.toBlob(
        (blob) => (blob ? resolve(blob) : reject(new Error('The PNG could not be encoded.'))),
        'image/png',
      ),
    );
  } finally {
    URL.revokeObjectURL(url);
  }
}
