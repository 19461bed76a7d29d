// A paper demo: a JSON file an author writes (public/demos/<name>.json, or a file a reader opens)
// that names the model, the job and its settings, with a title, a short text, the authors and a
// link. The studio opens it in a clean layout and runs it. The settings go through the same field
// checks as a link (urlState.ts), so a demo cannot ask for what the studio's form would refuse.
// README.md ("Paper demos") documents the format for authors.

import type { PruneForm } from '../pruning/pruneSettings';
import {
  decodeFields,
  EVAL_FIELDS,
  type EvalSettings,
  type LinkedTrainForm,
  PRUNE_FIELDS,
  TRAIN_FIELDS,
} from '../shell/urlState';

export const DEMO_FORMAT = 'compression-studio/demo';
export const DEMO_VERSION = 1;

export type DemoJob =
  | { kind: 'prune'; settings: Partial<PruneForm> }
  | { kind: 'eval'; settings: Partial<EvalSettings> }
  | { kind: 'train'; settings: Partial<LinkedTrainForm> };

export interface DemoSpec {
  title: string;
  /** Paragraphs split by blank lines, with **bold**, *italic*, `code` and [links](https://…). */
  text: string;
  authors: string | null;
  /** An http(s) link to the paper or the project. */
  link: string | null;
  /** The built-in model, or a model folder by URL (relative to the demo file); a training demo uses it only to fine-tune (settings.model "loaded"). */
  model: { kind: 'builtin' } | { kind: 'url'; url: string };
  job: DemoJob;
  /** Start as soon as the studio is ready, rather than on a click. */
  autoRun: boolean;
}

export class DemoError extends Error {
  override name = 'DemoError';
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function string(o: Record<string, unknown>, key: string, max: number, required: boolean): string | null {
  const v = o[key];
  if (v === undefined && !required) return null;
  if (typeof v !== 'string' || (required && v.trim() === ''))
    throw new DemoError(`demo: "${key}" must be ${required ? 'a non-empty' : 'a'} string`);
  if (v.length > max) throw new DemoError(`demo: "${key}" is ${v.length} characters long; at most ${max}`);
  return v;
}

/** The settings as field texts: numbers and booleans as a link would spell them. */
function settingEntries(settings: unknown): [string, string][] {
  if (settings === undefined) return [];
  if (!isObject(settings)) throw new DemoError('demo: "settings" must be an object');
  return Object.entries(settings).map(([key, v]) => {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return [key, String(v)];
    if (v === null && key === 'windows') return [key, 'all'];
    throw new DemoError(`demo: settings.${key} must be a string, a number or true/false`);
  });
}

/**
 * Checks a parsed demo file and returns it typed; `base` is the file's URL, which a relative model
 * URL is resolved against. Every problem is said with the field it is in.
 */
export function parseDemo(value: unknown, base: string): DemoSpec {
  if (!isObject(value)) throw new DemoError('demo: the file does not hold a JSON object');
  if (value.format !== DEMO_FORMAT)
    throw new DemoError(`demo: "format" must be "${DEMO_FORMAT}"; this is not a demo file`);
  if (value.version !== DEMO_VERSION)
    throw new DemoError(
      `demo: version ${JSON.stringify(value.version)} is not supported (this studio reads version ${DEMO_VERSION})`,
    );
  const title = string(value, 'title', 200, true) as string;
  const text = string(value, 'text', 10_000, false) ?? '';
  const authors = string(value, 'authors', 500, false);
  const link = string(value, 'link', 2000, false);
  if (link !== null && !/^https?:\/\//i.test(link))
    throw new DemoError('demo: "link" must be an http(s) address');

  let model: DemoSpec['model'] = { kind: 'builtin' };
  if (value.model !== undefined && value.model !== 'builtin') {
    const url = isObject(value.model) ? value.model.url : undefined;
    if (typeof url !== 'string') throw new DemoError('demo: "model" must be "builtin" or { "url": "…" }');
    let resolved: URL;
    try {
      resolved = new URL(url, base);
    } catch {
      throw new DemoError(`demo: model.url ${JSON.stringify(url)} is not an address`);
    }
    if (resolved.protocol !== 'https:' && resolved.protocol !== 'http:')
      throw new DemoError('demo: model.url must be an http(s) address');
    model = { kind: 'url', url: resolved.href };
  }

  const problems: string[] = [];
  const entries = settingEntries(value.settings);
  let job: DemoJob;
  if (value.job === 'prune')
    job = { kind: 'prune', settings: decodeFields(PRUNE_FIELDS, entries, 'settings.', problems) };
  else if (value.job === 'eval')
    job = { kind: 'eval', settings: decodeFields(EVAL_FIELDS, entries, 'settings.', problems) };
  else if (value.job === 'train')
    job = { kind: 'train', settings: decodeFields(TRAIN_FIELDS, entries, 'settings.', problems) };
  else throw new DemoError('demo: "job" must be "prune", "eval" or "train"');
  if (problems.length > 0) throw new DemoError(`demo: ${problems.join('; ')}`);

  if (value.autoRun !== undefined && typeof value.autoRun !== 'boolean')
    throw new DemoError('demo: "autoRun" must be true or false');
  return { title, text, authors, link, model, job, autoRun: value.autoRun !== false };
}

export type Inline =
  | { kind: 'text'; text: string }
  | { kind: 'strong' | 'em' | 'code'; text: string }
  | { kind: 'link'; text: string; href: string };

const INLINE = /\*\*([^*]+)\*\*|\*([^*]+)\*|`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)/g;

/**
 * A demo text as paragraphs of inline pieces. Deliberately small (no nesting, no HTML): the text is
 * rendered as React elements, never as markup, and a link that is not http(s) stays plain text.
 */
export function parseDemoText(text: string): Inline[][] {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s*\n\s*/g, ' ').trim())
    .filter((p) => p !== '')
    .map((paragraph) => {
      const pieces: Inline[] = [];
      let at = 0;
      for (const match of paragraph.matchAll(INLINE)) {
        if (match.index > at) pieces.push({ kind: 'text', text: paragraph.slice(at, match.index) });
        const [whole, strong, em, code, label, href] = match;
        if (strong !== undefined) pieces.push({ kind: 'strong', text: strong });
        else if (em !== undefined) pieces.push({ kind: 'em', text: em });
        else if (code !== undefined) pieces.push({ kind: 'code', text: code });
        else if (label !== undefined && href !== undefined && /^https?:\/\//i.test(href))
          pieces.push({ kind: 'link', text: label, href });
        else pieces.push({ kind: 'text', text: whole });
        at = match.index + whole.length;
      }
      if (at < paragraph.length) pieces.push({ kind: 'text', text: paragraph.slice(at) });
      return pieces;
    });
}
