// Scores of one completion against what the authors wrote, as in the MGD paper (Agrawal et al. 2023, §4):
//   NIM  next-identifier match: the first identifier generated equals the authors' first identifier;
//   ISM  identifier-sequence match: longest common prefix of the two identifier sequences, divided by
//        the number of identifiers the authors wrote;
//   PM   prefix match: the same over all lexical tokens;
//   CR   compile rate: the generated line is non-empty and the file with it in place of the original
//        line has no error the original file lacks (errors compared as a multiset keyed by code,
//        message and line: an error that vanished does not pay for one that appeared);
//   EM   exact match of the whole completed line (the line up to the dot, then the completion) with the
//        authors' line, leading and trailing white space aside;
//   ES   edit similarity of those two lines (1 − Levenshtein / longer length), as in line-completion
//        benchmarks (CodeXGLUE, RepoBench): partial credit where NIM and EM give none.
// Paired bootstrap confidence intervals for with-vs-without differences.
import ts from 'typescript';
import { editSimilarity } from '../../model/pie/metrics.js';
import { Rng } from './random.js';

export interface Token {
  readonly kind: ts.SyntaxKind;
  readonly text: string;
}

/** Lexes TypeScript text into tokens (trivia skipped). Never throws on broken code. */
export function lex(text: string): Token[] {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, true, ts.LanguageVariant.Standard, text);
  const out: Token[] = [];
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    out.push({ kind, text: scanner.getTokenText() });
  }
  return out;
}

/** Contextual keywords that act as operators, not names, outside member position. */
const OPERATOR_WORDS = new Set(['as', 'satisfies', 'of', 'keyof', 'is', 'infer', 'async', 'await', 'asserts', 'unique']);

function isWord(kind: ts.SyntaxKind): boolean {
  return kind === ts.SyntaxKind.Identifier || (kind >= ts.SyntaxKind.FirstKeyword && kind <= ts.SyntaxKind.LastKeyword);
}

function isReservedWord(kind: ts.SyntaxKind): boolean {
  return kind >= ts.SyntaxKind.FirstReservedWord && kind <= ts.SyntaxKind.LastReservedWord;
}

/**
 * Identifiers in order. A word is an identifier unless it is a reserved word or an operator keyword;
 * a word right after `.`/`?.`, or first in the text (the text starts after a dot), is always a member
 * name and so an identifier (`x.delete`, `p.catch`).
 */
export function identifiers(text: string): string[] {
  const toks = lex(text);
  const out: string[] = [];
  toks.forEach((t, i) => {
    if (t.kind === ts.SyntaxKind.PrivateIdentifier) {
      out.push(t.text);
      return;
    }
    if (!isWord(t.kind)) return;
    const prev = i > 0 ? toks[i - 1].kind : undefined;
    const memberPosition = i === 0 || prev === ts.SyntaxKind.DotToken || prev === ts.SyntaxKind.QuestionDotToken;
    if (memberPosition || (t.kind === ts.SyntaxKind.Identifier) || (!isReservedWord(t.kind) && !OPERATOR_WORDS.has(t.text))) {
      out.push(t.text);
    }
  });
  return out;
}

function commonPrefix(a: readonly string[], b: readonly string[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/** The generated text up to (not including) its first line break: completions run to end of line. */
export function firstLine(generated: string): string {
  const nl = generated.search(/\r?\n/);
  return nl < 0 ? generated : generated.slice(0, nl);
}

export interface MatchScores {
  /** 1 when the first generated identifier equals the authors', else 0. */
  readonly nim: number;
  /** Fractions in [0, 1]. */
  readonly ism: number;
  readonly pm: number;
}

/** NIM/ISM/PM of `generated` (text after the dot, to end of line) against the authors' `truth`. */
export function matchScores(generated: string, truth: string): MatchScores {
  const g = firstLine(generated).trimEnd();
  const genIds = identifiers(g);
  const truthIds = identifiers(truth);
  const genToks = lex(g).map((t) => t.text);
  const truthToks = lex(truth).map((t) => t.text);
  return {
    nim: genIds.length > 0 && truthIds.length > 0 && genIds[0] === truthIds[0] ? 1 : 0,
    ism: truthIds.length === 0 ? 0 : commonPrefix(genIds, truthIds) / truthIds.length,
    pm: truthToks.length === 0 ? 0 : commonPrefix(genToks, truthToks) / truthToks.length,
  };
}

export interface LineScores {
  /** 1 when the completed line equals the authors' line, else 0. */
  readonly em: number;
  /** Edit similarity of the two lines, in [0, 1]. */
  readonly es: number;
}

/**
 * EM/ES of the whole completed line: `lineHead` (the site's line up to and including the dot) followed by
 * `generated` (first line only), against `lineHead` followed by the authors' `truth`.
 */
export function lineScores(lineHead: string, generated: string, truth: string): LineScores {
  const completed = (lineHead + firstLine(generated)).trim();
  const real = (lineHead + truth).trim();
  return { em: completed === real ? 1 : 0, es: editSimilarity(completed, real) };
}

/** The file text with the site's line ending in `generated` (first line only) after the dot. */
export function spliceLine(text: string, offset: number, lineEnd: number, generated: string): string {
  return text.slice(0, offset) + firstLine(generated) + text.slice(lineEnd);
}

/**
 * The errors of `candidate` that `baseline` lacks, as a multiset difference: an error key present twice
 * in the candidate and once in the baseline is introduced once. Errors that vanished are ignored.
 */
export function introducedErrors(baseline: readonly string[], candidate: readonly string[]): string[] {
  const left = new Map<string, number>();
  for (const k of baseline) left.set(k, (left.get(k) ?? 0) + 1);
  const out: string[] = [];
  for (const k of candidate) {
    const n = left.get(k) ?? 0;
    if (n > 0) left.set(k, n - 1);
    else out.push(k);
  }
  return out;
}

export interface Interval {
  readonly mean: number;
  readonly lo: number;
  readonly hi: number;
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((s, x) => s + x, 0) / xs.length;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const idx = (sorted.length - 1) * p;
  const lo = Math.floor(idx);
  const hi = Math.ceil(idx);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (idx - lo);
}

/**
 * Paired bootstrap 95% interval of mean(b) - mean(a) (and of mean(b) alone when `a` is omitted):
 * sites are resampled with replacement, the same indices for both arms, `rounds` times.
 */
export function pairedBootstrap(a: readonly number[] | undefined, b: readonly number[], seed: number, rounds = 2000): Interval {
  if (a && a.length !== b.length) throw new Error('paired bootstrap needs arms of equal length');
  const n = b.length;
  const stat = (idx: (i: number) => number): number => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const j = idx(i);
      s += b[j] - (a ? a[j] : 0);
    }
    return n === 0 ? 0 : s / n;
  };
  const point = stat((i) => i);
  if (n === 0) return { mean: 0, lo: 0, hi: 0 };
  const rng = new Rng(seed);
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) samples.push(stat(() => rng.int(n)));
  samples.sort((x, y) => x - y);
  return { mean: point, lo: percentile(samples, 0.025), hi: percentile(samples, 0.975) };
}

export { mean };
