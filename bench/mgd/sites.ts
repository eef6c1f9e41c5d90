// Dereference sites: `expr.` and `expr?.` positions in real sources (TypeScript, and hand-written
// JavaScript checked with checkJs) where the checker resolves the receiver's type and the member the
// authors wrote (an identifier or a `#private` name) is among the legal completions there.
import path from 'node:path';
import ts from 'typescript';
import { isJavaScriptFile } from './packages.js';
import { Rng } from './random.js';
import type { TsProject } from './tsProject.js';

/**
 * What kind of dereference a site is; each site has exactly one, the first that applies:
 * `js` (in a JavaScript file), `private` (`this.#x`, `obj.#x`), `optional` (`a?.b`), `this` (`this.b`),
 * `member` (any other `a.b`).
 */
export type SiteKind = 'member' | 'this' | 'private' | 'optional' | 'js';
export const SITE_KINDS: readonly SiteKind[] = ['member', 'this', 'private', 'optional', 'js'];

export interface Site {
  /** `package:relative/path.ts:line:column` (1-based), stable across runs. */
  readonly id: string;
  readonly pkg: string;
  /** Absolute path of the source file. */
  readonly file: string;
  /** Path relative to the package folder. */
  readonly relPath: string;
  readonly kind: SiteKind;
  readonly language: 'typescript' | 'javascript';
  /** Offset just after the `.` (after `?.` for an optional access): where the model starts generating. */
  readonly offset: number;
  /** 0-based line of the dot, and that line's start/end offsets (end excludes the line break). */
  readonly line: number;
  readonly lineStart: number;
  readonly lineEnd: number;
  /** Receiver expression text (for reports). */
  readonly receiver: string;
  /** The identifier the authors wrote after the dot (`#name` for a private one). */
  readonly member: string;
  /** What the authors wrote from the dot to the end of the line (trailing whitespace trimmed). */
  readonly truth: string;
  /** Number of legal members the checker offers at the site. */
  readonly legalCount: number;
}

/** A syntactic candidate, before the checker has been asked about it. */
interface Candidate {
  readonly node: ts.PropertyAccessExpression;
  readonly dotEnd: number;
}

/** `expr.name`, `expr.#name` and `expr?.name` accesses whose name follows the dot directly on the same line. */
function syntacticCandidates(sf: ts.SourceFile): Candidate[] {
  const out: Candidate[] = [];
  const text = sf.text;
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && (ts.isIdentifier(node.name) || ts.isPrivateIdentifier(node.name))) {
      const nameStart = node.name.getStart(sf);
      const dot = node.questionDotToken ? '?.' : '.';
      // The dot must sit right before the name (no space, comment or line break between).
      if (text.slice(nameStart - dot.length, nameStart) === dot && !ts.isImportTypeNode(node.parent)) {
        out.push({ node, dotEnd: nameStart });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The kind of the access `node` in `file` (see SiteKind). */
export function siteKind(node: ts.PropertyAccessExpression, file: string): SiteKind {
  if (isJavaScriptFile(file)) return 'js';
  if (ts.isPrivateIdentifier(node.name)) return 'private';
  if (node.questionDotToken) return 'optional';
  if (node.expression.kind === ts.SyntaxKind.ThisKeyword) return 'this';
  return 'member';
}

/** The member names the checker offers after the dot at `offset`, or undefined when it resolves none. */
export function legalMembers(project: TsProject, file: string, offset: number): Set<string> | undefined {
  const info = project.service.getCompletionsAtPosition(file, offset, {
    triggerCharacter: '.',
    includeCompletionsWithInsertText: true,
    includeAutomaticOptionalChainCompletions: false,
  });
  if (!info || !info.isMemberCompletion || info.entries.length === 0) return undefined;
  return new Set(info.entries.filter((e) => e.kind !== ts.ScriptElementKind.keyword).map((e) => e.name));
}

function resolvesType(checker: ts.TypeChecker, expr: ts.Expression): boolean {
  const sym = checker.getSymbolAtLocation(expr);
  // A namespace or module receiver (`ns.member`) has no value type but does have resolved members.
  if (sym && (sym.flags & (ts.SymbolFlags.Namespace | ts.SymbolFlags.Module | ts.SymbolFlags.Enum | ts.SymbolFlags.Class))) return true;
  const type = checker.getTypeAtLocation(expr);
  return !(type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown | ts.TypeFlags.Never));
}

export interface SiteFinderOptions {
  readonly seed: number;
  /** Checker look-ups allowed per wanted site before giving up on a package (bounds time on bad packages). */
  readonly attemptsPerSite?: number;
}

/**
 * Up to `want` sites of one package, sampled deterministically by seed and spread over its files:
 * files are visited in a seeded order, one candidate per file per round, each file's candidates in a
 * seeded order. A candidate becomes a site when its receiver's type resolves and the authors' member
 * is among the legal completions at the dot.
 */
export function findSites(project: TsProject, pkgLabel: string, pkgDir: string, files: readonly string[], want: number, opts: SiteFinderOptions): Site[] {
  if (want <= 0) return [];
  const rng = new Rng(opts.seed ^ hashString(pkgLabel));
  const program = project.program();
  const checker = program.getTypeChecker();
  const queues: { file: string; sf: ts.SourceFile; cands: Candidate[] }[] = [];
  for (const file of rng.shuffle([...files])) {
    const sf = program.getSourceFile(file);
    if (!sf) continue;
    const cands = rng.shuffle(syntacticCandidates(sf));
    if (cands.length > 0) queues.push({ file, sf, cands });
  }
  const sites: Site[] = [];
  let attempts = 0;
  const maxAttempts = want * (opts.attemptsPerSite ?? 20);
  while (sites.length < want && attempts < maxAttempts && queues.some((q) => q.cands.length > 0)) {
    for (const q of queues) {
      if (sites.length >= want || attempts >= maxAttempts) break;
      const cand = q.cands.shift();
      if (!cand) continue;
      attempts++;
      const site = checkCandidate(project, checker, pkgLabel, pkgDir, q.file, q.sf, cand);
      if (site) sites.push(site);
    }
  }
  return sites;
}

/** Lines under `@ts-ignore`/`@ts-expect-error` (or files under `@ts-nocheck`) are not type-checked: no CR there. */
function uncheckedLine(sf: ts.SourceFile, line: number): boolean {
  if (/^\s*\/\/\s*@ts-nocheck/m.test(sf.text.slice(0, 2000))) return true;
  const lines = sf.getLineStarts();
  for (let l = line - 1; l >= 0; l--) {
    const t = sf.text.slice(lines[l], l + 1 < lines.length ? lines[l + 1] : sf.text.length).trim();
    if (!t.startsWith('//')) return false;
    if (/@ts-(ignore|expect-error)/.test(t)) return true;
  }
  return false;
}

function checkCandidate(project: TsProject, checker: ts.TypeChecker, pkg: string, pkgDir: string, file: string, sf: ts.SourceFile, cand: Candidate): Site | undefined {
  const member = cand.node.name.text;
  if (uncheckedLine(sf, sf.getLineAndCharacterOfPosition(cand.dotEnd).line)) return undefined;
  if (!resolvesType(checker, cand.node.expression)) return undefined;
  const legal = legalMembers(project, file, cand.dotEnd);
  if (!legal || !legal.has(member)) return undefined;
  const text = sf.text;
  const { line } = sf.getLineAndCharacterOfPosition(cand.dotEnd);
  const lineStart = sf.getPositionOfLineAndCharacter(line, 0);
  let lineEnd = text.indexOf('\n', cand.dotEnd);
  if (lineEnd < 0) lineEnd = text.length;
  if (text[lineEnd - 1] === '\r') lineEnd--;
  const truth = text.slice(cand.dotEnd, lineEnd).trimEnd();
  const relPath = path.relative(pkgDir, file).split(path.sep).join('/');
  const col = cand.dotEnd - lineStart;
  return {
    id: `${pkg}:${relPath}:${line + 1}:${col + 1}`,
    kind: siteKind(cand.node, file),
    language: isJavaScriptFile(file) ? 'javascript' : 'typescript',
    pkg,
    file,
    relPath,
    offset: cand.dotEnd,
    line,
    lineStart,
    lineEnd,
    receiver: cand.node.expression.getText(sf).slice(0, 80),
    member,
    truth,
    legalCount: legal.size,
  };
}

export function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}
