// Where a monitor should start: tree-sitter (web-tree-sitter WASM grammars) decides the syntactic
// context. Prefixes being decoded are usually incomplete code, so each candidate point is parsed with a
// placeholder identifier (and a closer such as `)` or `: }`) spliced in, and the placeholder's ancestors
// say whether it is a member name, a constructor, a case label, an import specifier or an argument.
// Unterminated strings and comments parse as valid code in a prefix (`\`abc.` looks like a member
// access), so a small lexer first rules out positions inside strings and comments.
import path from 'node:path';
import { Parser, Language, type Node as SyntaxNode, type Point, type Tree } from 'web-tree-sitter';
import type { LeadRule } from './identifierMask.js';

export type TriggerKind = 'dereference' | 'new' | 'case' | 'namedImport' | 'arguments';

export interface Trigger {
  readonly kind: TriggerKind;
  /** Offset in the text where the constrained text starts (right after `.`, `new`, `case`, `{`, `(`...). */
  readonly offset: number;
  /** Whitespace allowed/required before the identifier. */
  readonly lead: LeadRule;
  /** Tokens that start another identifier are also legal (`new` may be the start of `newValue`). */
  readonly escape?: boolean;
  /** Text to splice in at `offset` before asking the server (e.g. the space after `new`). */
  readonly queryInsert?: string;
  /** For `arguments`: the offset of the `(` and how many arguments are already complete before `offset`. */
  readonly openParen?: number;
  /** For `case`: the switch's subject expression (parentheses removed) and the offset where it ends. */
  readonly subject?: string;
  readonly subjectEnd?: number;
  /** For `dereference` in JavaScript/TypeScript: a private name (`#count`) may follow the `.`. */
  readonly privateNames?: boolean;
  /** For `arguments`: Python's lexical rules (`#` comments, no `<...>` type arguments). */
  readonly python?: boolean;
}

const PLACEHOLDER = '__typeguide__';

type Grammar = 'typescript' | 'tsx' | 'python';

export function grammarFor(languageId: string): Grammar | undefined {
  switch (languageId) {
    case 'typescript': case 'javascript': return 'typescript';
    case 'typescriptreact': case 'javascriptreact': return 'tsx';
    case 'python': return 'python';
    default: return undefined;
  }
}

let loading: Promise<Map<Grammar, Language>> | undefined;

function packageDir(name: string): string {
  return path.dirname(require.resolve(`${name}/package.json`));
}

/** Loads the runtime and the three grammars once per process. */
export function loadGrammars(): Promise<Map<Grammar, Language>> {
  loading ??= (async () => {
    const runtimeWasm = require.resolve('web-tree-sitter/tree-sitter.wasm');
    await Parser.init({ locateFile: () => runtimeWasm });
    const ts = packageDir('tree-sitter-typescript');
    const [typescript, tsx, python] = await Promise.all([
      Language.load(path.join(ts, 'tree-sitter-typescript.wasm')),
      Language.load(path.join(ts, 'tree-sitter-tsx.wasm')),
      Language.load(path.join(packageDir('tree-sitter-python'), 'tree-sitter-python.wasm')),
    ]);
    return new Map<Grammar, Language>([['typescript', typescript], ['tsx', tsx], ['python', python]]);
  })();
  loading.catch(() => { loading = undefined; });
  return loading;
}

// ---------------------------------------------------------------------------------------------
// Lexical state at the end of a prefix: inside code, a string or a comment.

export type LexState = 'code' | 'string' | 'comment';

/** Scans `text` and reports the state at its end. Template literals (`${...}`) and f-strings are
 *  treated as strings except inside `${ }` for JS. Regex literals are not recognized (rare in prefixes). */
export function lexicalState(text: string, python: boolean, resume?: LexCheckpoint, checkpoint?: { before: number; save: (cp: LexCheckpoint) => void }): LexState {
  let i = resume?.offset ?? 0;
  const n = text.length;
  const templateDepth: number[] = resume ? resume.templateDepth.slice() : []; // brace depth at each open `${`
  let braces = resume?.braces ?? 0;
  let nextSave = i + CHECKPOINT_EVERY;
  let saved: LexCheckpoint | undefined;
  try {
    return scan();
  } finally {
    if (saved) checkpoint!.save(saved);
  }
  function scan(): LexState {
  while (i < n) {
    // `i` is between tokens in code here: a state to resume from later.
    if (checkpoint && i >= nextSave && i <= checkpoint.before) {
      saved = { offset: i, braces, templateDepth: templateDepth.slice() };
      nextSave = i + CHECKPOINT_EVERY;
    }
    const c = text[i];
    if (python) {
      if (c === '#') {
        const nl = text.indexOf('\n', i);
        if (nl < 0) return 'comment';
        i = nl + 1;
        continue;
      }
      if (c === '"' || c === "'") {
        const triple = text.startsWith(c.repeat(3), i);
        const quote = triple ? c.repeat(3) : c;
        i += quote.length;
        for (;;) {
          if (i >= n) return 'string';
          const d = text[i];
          if (d === '\\') { i += 2; continue; }
          if (!triple && d === '\n') break;
          if (text.startsWith(quote, i)) { i += quote.length; break; }
          i++;
        }
        continue;
      }
      i++;
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      const nl = text.indexOf('\n', i);
      if (nl < 0) return 'comment';
      i = nl + 1;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) return 'comment';
      i = end + 2;
      continue;
    }
    if (c === '"' || c === "'") {
      i++;
      for (;;) {
        if (i >= n) return 'string';
        const d = text[i];
        if (d === '\\') { i += 2; continue; }
        if (d === '\n') break;
        i++;
        if (d === c) break;
      }
      continue;
    }
    if (c === '`' || (c === '}' && templateDepth.length > 0 && templateDepth[templateDepth.length - 1] === braces)) {
      if (c === '}') templateDepth.pop();
      i++;
      for (;;) {
        if (i >= n) return 'string';
        const d = text[i];
        if (d === '\\') { i += 2; continue; }
        if (d === '`') { i++; break; }
        if (d === '$' && text[i + 1] === '{') { i += 2; templateDepth.push(braces); break; }
        i++;
      }
      continue;
    }
    if (c === '{') braces++;
    else if (c === '}') braces--;
    i++;
  }
  return 'code';
  }
}

/** Where `lexicalState` can resume: an offset between tokens in code, with the nesting there. */
export interface LexCheckpoint { readonly offset: number; readonly braces: number; readonly templateDepth: readonly number[] }
const CHECKPOINT_EVERY = 2048;
/** Checkpoints stay this far behind the end: the tail is what changes between calls. */
const CHECKPOINT_LAG = 1024;

// ---------------------------------------------------------------------------------------------

const IDENT_END = /[\p{ID_Continue}$)\]]$/u;

/** The last tree parsed per grammar, with its input, kept for the next (incremental) parse. */
interface LastParse { readonly input: string; readonly end: Point; readonly tree: Tree }

export interface TriggerDetectorOptions {
  /** Reparse by editing the previous tree (default). `false` parses every input from scratch (the
   *  benchmark's baseline and the equivalence test's reference). */
  incremental?: boolean;
}

/** Row and column (UTF-16 code units, as web-tree-sitter counts them) after `text.slice(from, to)`, from `start`. */
function advance(text: string, from: number, to: number, start: Point): Point {
  let { row, column } = start;
  let lineStart = -1;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) { row++; lineStart = i + 1; }
  column = lineStart < 0 ? column + (to - from) : to - lineStart;
  return { row, column };
}

/** The brackets that close every one still open at the end of `text` (strings and comments skipped). */
function closers(text: string, python: boolean): string {
  const open: string[] = [];
  const pairs: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (python && (c === '"' || c === "'") && text.startsWith(c.repeat(3), i)) {
      const end = text.indexOf(c.repeat(3), i + 3); // a docstring's brackets are text
      i = end < 0 ? text.length : end + 2;
    } else if (c === '"' || c === "'" || (c === '`' && !python)) {
      for (i++; i < text.length && text[i] !== c && (c === '`' || text[i] !== '\n'); i++) if (text[i] === '\\') i++;
    } else if (python ? c === '#' : c === '/' && text[i + 1] === '/') {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl;
    } else if (!python && c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
    } else if (c in pairs) open.push(pairs[c]);
    else if (c === ')' || c === ']' || c === '}') open.pop();
  }
  return open.reverse().join('');
}

/** Nodes whose lines end inside them: an argument list outside one is not the one being written. */
const BLOCKS = new Set(['statement_block', 'class_body', 'program', 'block', 'module', 'switch_body', 'template_substitution']);
const CALLS = new Set(['call_expression', 'new_expression', 'call']);

export class TriggerDetector {
  private readonly parser = new Parser();
  private readonly last = new Map<Grammar, LastParse>();
  private readonly incremental: boolean;
  private lexCheckpoint: { python: boolean; before: string; checkpoint: LexCheckpoint } | undefined;

  private constructor(private readonly grammars: Map<Grammar, Language>, options: TriggerDetectorOptions) {
    this.incremental = options.incremental ?? true;
  }

  static async create(options: TriggerDetectorOptions = {}): Promise<TriggerDetector> {
    return new TriggerDetector(await loadGrammars(), options);
  }

  /** Cheap test on the last characters: could `text` end at a trigger point? */
  static mightTrigger(text: string, python: boolean): boolean {
    const last = text[text.length - 1];
    if (last === '.' || last === '(' || last === ',' || last === '{') return true;
    if (last === ' ' || last === '\t') return /(?:\bnew|\bcase|\bimport|[(,{])\s+$/.test(text.slice(-12));
    if (!python && last === 'w') return text.endsWith('new');
    if (!python && last === 'e') return text.endsWith('case');
    return false;
  }

  /**
   * The trigger at the end of `text` (the document prefix plus what was generated), if any.
   * `suffix` is the text after the cursor (used only to see `} from 'm'` after a named import).
   */
  detect(languageId: string, text: string, suffix = ''): Trigger | undefined {
    const grammar = grammarFor(languageId);
    if (!grammar) return undefined;
    const python = grammar === 'python';
    if (!TriggerDetector.mightTrigger(text, python)) return undefined;
    if (this.lexical(text, python) !== 'code') return undefined;
    const tail = text.slice(-200);
    const end = text.length;

    if (text.endsWith('.')) {
      const before = text.slice(0, -1);
      if (before.endsWith('.') || !(IDENT_END.test(before) || before.endsWith('?'))) return undefined;
      if (/(?:^|[^\p{ID_Continue}$.])\d+$/u.test(before)) return undefined; // 1.5
      const node = this.placeholder(grammar, text, '');
      if (!node) return undefined;
      const parent = node.parent;
      if (python) {
        if (parent?.type !== 'attribute' || hasAncestor(node, ['import_statement', 'import_from_statement', 'relative_import'])) return undefined;
      } else if (parent?.type !== 'member_expression' || hasAncestor(node, ['import_statement'])) {
        return undefined;
      }
      return python ? { kind: 'dereference', offset: end, lead: 'none' } : { kind: 'dereference', offset: end, lead: 'none', privateNames: true };
    }
    if (!python) {
      const m = /\bnew(\s*)$/.exec(tail);
      if (m && !/[\p{ID_Continue}$.]new\s*$/u.test(tail)) {
        const spaced = m[1].length > 0;
        const node = this.placeholder(grammar, text + (spaced ? '' : ' '), '');
        if (node?.parent?.type === 'new_expression') {
          return spaced ? { kind: 'new', offset: end, lead: 'optional' } : { kind: 'new', offset: end, lead: 'required', escape: true, queryInsert: ' ' };
        }
      }
      const c = /\bcase(\s*)$/.exec(tail);
      if (c && !/[\p{ID_Continue}$.]case\s*$/u.test(tail)) {
        const spaced = c[1].length > 0;
        const node = this.placeholder(grammar, text + (spaced ? '' : ' '), ': }');
        if (node?.parent?.type === 'switch_case') {
          const subject = switchSubject(node.parent);
          const base = spaced ? { kind: 'case' as const, offset: end, lead: 'optional' as const } : { kind: 'case' as const, offset: end, lead: 'required' as const, escape: true, queryInsert: ' ' };
          return subject && subject.endIndex <= end ? { ...base, subject: subject.text, subjectEnd: subject.endIndex } : base;
        }
      }
    }
    if (/[{,]\s*$/.test(tail)) {
      // `import {`, `import type {`, `import Default, {`, and `export {` (a re-export once `from` follows).
      const importLike = python ? /\bfrom\s+[\p{ID_Continue}.]+\s+import\s+\(?[\p{ID_Continue}\s,]*$/u.test(tail)
        : /\b(?:import\s+(?:type\s+)?(?:[\p{ID_Start}$_][\p{ID_Continue}$]*\s*,\s*)?|export\s+(?:type\s+)?)\{[\p{ID_Continue}$\s,]*$/u.test(tail);
      if (importLike) {
        const node = this.placeholder(grammar, text, python ? '' : ' }');
        const ok = python
          ? node?.parent?.type === 'dotted_name' && (node.parent.parent?.type === 'ERROR' || (node.parent.parent?.type === 'import_from_statement' && node.parent.parent.childForFieldName('module_name')?.id !== node.parent.id))
          : hasAncestor(node, ['import_specifier', 'export_specifier']) && /^[^;]*?\}\s*from\s*['"]/.test(suffix);
        if (ok) return { kind: 'namedImport', offset: end, lead: 'optional' };
        return undefined;
      }
    }
    if (/[(,]\s*$/.test(tail)) {
      const node = this.placeholder(grammar, text, ')');
      const args = node?.parent;
      const callee = args?.parent?.type;
      if (args && (args.type === 'arguments' || args.type === 'argument_list') && (callee === 'call_expression' || callee === 'new_expression' || callee === 'call')) {
        return python ? { kind: 'arguments', offset: end, lead: 'optional', openParen: args.startIndex, python: true } : { kind: 'arguments', offset: end, lead: 'optional', openParen: args.startIndex };
      }
    }
    if (python && /\bimport\s+$/.test(tail)) {
      const node = this.placeholder(grammar, text, '');
      const stmt = node?.parent?.parent;
      if (node?.parent?.type === 'dotted_name' && stmt?.type === 'import_from_statement' && stmt.childForFieldName('module_name')?.id !== node.parent.id) {
        return { kind: 'namedImport', offset: end, lead: 'optional' };
      }
    }
    return undefined;
  }

  /**
   * The argument list the end of `text` is inside, when no block lies between (the cursor in
   * `save(store.|` is inside `save(`): the trigger it had at its `(`, so that its arity also holds for
   * what the model writes after an inner trigger. Undefined inside a function body passed as an
   * argument (`f(() => { x.|`): that line ends in the block, not in the list.
   */
  enclosingArguments(languageId: string, text: string): Trigger | undefined {
    const grammar = grammarFor(languageId);
    if (!grammar) return undefined;
    const python = grammar === 'python';
    if (this.lexical(text, python) !== 'code') return undefined;
    // The placeholder may extend a half-typed name (`b.cou`): start from whatever node holds it.
    const tree = this.parse(grammar, text + PLACEHOLDER + closers(text, python));
    const node = tree?.rootNode.descendantForIndex(text.length, text.length + PLACEHOLDER.length);
    for (let n = node?.parent; n; n = n.parent) {
      if (BLOCKS.has(n.type)) return undefined;
      if ((n.type === 'arguments' || n.type === 'argument_list') && CALLS.has(n.parent?.type ?? '')) {
        const openParen = n.startIndex;
        if (text[openParen] !== '(' || openParen >= text.length) return undefined;
        return python ? { kind: 'arguments', offset: openParen + 1, lead: 'optional', openParen, python: true } : { kind: 'arguments', offset: openParen + 1, lead: 'optional', openParen };
      }
    }
    return undefined;
  }

  /** The lexical state at the end of `text`, resumed from the last checkpoint when `text` still starts
   *  with the text before it (the scan then costs the tail, not the whole prefix). */
  private lexical(text: string, python: boolean): LexState {
    if (!this.incremental) return lexicalState(text, python);
    const last = this.lexCheckpoint;
    const resume = last && last.python === python && text.startsWith(last.before) ? last.checkpoint : undefined;
    return lexicalState(text, python, resume, {
      before: text.length - CHECKPOINT_LAG,
      save: (checkpoint) => { this.lexCheckpoint = { python, before: text.slice(0, checkpoint.offset), checkpoint }; },
    });
  }

  /** Parses text + placeholder + closer and returns the placeholder's node (valid until the next parse). */
  private placeholder(grammar: Grammar, text: string, closer: string): SyntaxNode | undefined {
    const tree = this.parse(grammar, text + PLACEHOLDER + closer);
    if (!tree) return undefined;
    const node = tree.rootNode.descendantForIndex(text.length, text.length + PLACEHOLDER.length);
    return node && node.text === PLACEHOLDER ? node : undefined;
  }

  /**
   * Successive inputs share almost all their text: the prefix grows by a token, only the placeholder and
   * closer at the end change. Editing the previous tree over the changed tail lets tree-sitter reuse every
   * subtree before it, so a reparse costs about the tail instead of the whole prefix (tree-sitter's
   * incremental parsing gives the tree a fresh parse would). Another document, or an edit in the first
   * half, is parsed from scratch.
   */
  private parse(grammar: Grammar, input: string): Tree | null {
    this.parser.setLanguage(this.grammars.get(grammar)!);
    const prev = this.last.get(grammar);
    let tree: Tree | null = null;
    const end = advance(input, 0, input.length, { row: 0, column: 0 });
    if (prev && this.incremental) {
      const k = commonPrefixLength(prev.input, input);
      if (k >= input.length / 2) {
        const startPosition = advance(input, 0, k, { row: 0, column: 0 });
        prev.tree.edit({ startIndex: k, oldEndIndex: prev.input.length, newEndIndex: input.length, startPosition, oldEndPosition: prev.end, newEndPosition: end });
        tree = this.parser.parse(input, prev.tree);
      }
    }
    tree ??= this.parser.parse(input);
    prev?.tree.delete();
    if (tree) this.last.set(grammar, { input, end, tree });
    else this.last.delete(grammar);
    return tree;
  }

  dispose(): void {
    for (const p of this.last.values()) p.tree.delete();
    this.last.clear();
    this.parser.delete();
  }
}

/** The expression a `switch_case` switches over (inside the statement's parentheses). */
function switchSubject(switchCase: SyntaxNode): SyntaxNode | undefined {
  let n: SyntaxNode | null = switchCase.parent;
  while (n && n.type !== 'switch_statement') n = n.parent;
  let value = n?.childForFieldName('value') ?? undefined;
  while (value?.type === 'parenthesized_expression') value = value.namedChild(0) ?? undefined;
  return value && !value.hasError ? value : undefined;
}

/** Length of the common prefix; the previous input usually survives whole up to its placeholder. */
function commonPrefixLength(a: string, b: string): number {
  const max = Math.min(a.length, b.length);
  let k = Math.max(0, Math.min(max, a.lastIndexOf(PLACEHOLDER)));
  if (!b.startsWith(a.slice(0, k))) k = 0;
  while (k < max && a.charCodeAt(k) === b.charCodeAt(k)) k++;
  return k;
}

function hasAncestor(node: SyntaxNode | undefined | null, types: string[]): boolean {
  for (let n = node; n; n = n.parent) if (types.includes(n.type)) return true;
  return false;
}
