/** Tiny DOM helpers: text only ever goes in through `textContent`, never as HTML. */

type Attributes = Readonly<Record<string, string | number | boolean | undefined>>;
type Child = Node | string;

/** The element with this id; throws when the page lacks it (a broken template, not a user error). */
export function byId<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

function apply(node: Element, attributes: Attributes, children: readonly Child[]): void {
  for (const [name, value] of Object.entries(attributes))
    if (value !== undefined && value !== false) node.setAttribute(name, value === true ? '' : String(value));
  node.append(...children);
}

/** An HTML element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  apply(node, attributes, children);
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes and children. */
export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  apply(node, attributes, children);
  return node;
}

/** A status word as a badge: coloured, and the word itself is always there (colour is never the only signal). */
export function badge(status: string): HTMLSpanElement {
  return h('span', { class: `badge s-${status}` }, status);
}

/** `2026-11-24T08:47:15.123Z` -> `08:47:15` in the viewer's time zone; `—` for none. */
export function clock(at: string | null | undefined): string {
  if (!at) return '—';
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? at : date.toLocaleTimeString([], { hour12: false });
}

/** Replaces a table body's rows. */
export function fillRows(body: HTMLTableSectionElement, rows: readonly HTMLTableRowElement[]): void {
  body.replaceChildren(...rows);
}

/** A row of cells; strings become text. */
export function row(...cells: Child[]): HTMLTableRowElement {
  return h('tr', {}, ...cells.map((cell) => h('td', {}, cell)));
}
