// Dereference sites: `expr.` positions in real sources where the checker resolves the receiver's type
// and the member the authors wrote is among the legal completions there.
import path from 'node:path';
import ts from 'typescript';
import { Rng } from './random.js';
import type { TsProject } from './tsProject.js';

export interface Site {
  /** `package:relative/path.ts:line:column` (1-based), stable across runs. */
  readonly id: string;
  readonly pkg: string;
  /** Absolute path of the source file. */
  readonly file: string;
  /** Path relative to the package folder. */
  readonly relPath: string;
  /** Offset just after the `.` (where the model starts generating). */
  readonly offset: number;
  /** 0-based line of the dot, and that line's start/end offsets (end excludes the line break). */
  readonly line: number;
  readonly lineStart: number;
  readonly lineEnd: number;
  /** Receiver expression text (for reports). */
  readonly receiver: string;
  /** The identifier the authors wrote after the dot. */
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

/** Plain `expr.name` accesses whose name follows the dot directly on the same line. */
function syntacticCandidates(sf: ts.SourceFile): Candidate[] {
  const out: Candidate[] = [];
  const text = sf.text;
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.name) && !node.questionDotToken) {
      const nameStart = node.name.getStart(sf);
      // The dot must sit right before the name (no space, comment or line break between).
      if (text[nameStart - 1] === '.' && !ts.isImportTypeNode(node.parent)) {
        out.push({ node, dotEnd: nameStart });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
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
