// Project context for the prompt: which imported names the code near the cursor uses, and what the
// declarations the language server points them to look like with their bodies left out. tree-sitter
// decides both (the grammars the trigger detector loads); the server only says where a name is declared.
import { Parser, type Language, type Node as SyntaxNode } from 'web-tree-sitter';
import { hashString } from './textHash.js';
import { grammarFor, loadGrammars } from './triggers.js';

/** A name an import statement binds in the file. */
export interface ImportedName {
  /** The local name (`C` for `import { B as C }`). */
  readonly name: string;
  /** Offset of the local name's identifier in the import statement. */
  readonly offset: number;
}

/** A top-level declaration rendered for a prompt: signatures kept, bodies and comments left out. */
export interface DeclarationOutline {
  readonly name: string;
  /** Lines (0-based, as LSP counts them) the declaration spans in its file, decorators included. */
  readonly startLine: number;
  readonly endLine: number;
  readonly text: string;
}

/** A declaration before capping: its lines and the line that closes it (`}`), when it has one. */
interface Rendered {
  readonly name: string;
  readonly start: { row: number; column: number };
  readonly end: { row: number; column: number };
  readonly lines: readonly string[];
  readonly closer?: string;
  /** Lines that must all fit (a class's decorators and header); default 1. */
  readonly headerLines?: number;
}

let parser: Parser | undefined;

/** Parses with the shared parser (synchronous use only, so callers never interleave). */
async function parse<T>(languageId: string, text: string, use: (root: SyntaxNode, python: boolean) => T): Promise<T | undefined> {
  const grammar = grammarFor(languageId);
  if (!grammar) return undefined;
  const language: Language = (await loadGrammars()).get(grammar)!;
  parser ??= new Parser();
  parser.setLanguage(language);
  const tree = parser.parse(text);
  if (!tree) return undefined;
  try { return use(tree.rootNode, grammar === 'python'); } finally { tree.delete(); }
}

// ---------------------------------------------------------------------------------------------
// Imported names

/**
 * The names the file's import statements bind, ranked by use: names used before `offset` first,
 * nearest use first, then names used only after it (nearest first); unused names are dropped.
 * TS/JS: default, named (type-only too) and `import X = require()` bindings; Python: `from m import`
 * names. Namespace imports and plain module imports are left out. Empty for languages without a grammar.
 */
export async function importedNames(languageId: string, text: string, offset: number): Promise<ImportedName[]> {
  return (await parse(languageId, text, (root, python) => rankByUse(root, python, importBindings(root, python), offset))) ?? [];
}

/** Every name bound by a top-level import statement, in source order. */
export async function importBindingsOf(languageId: string, text: string): Promise<ImportedName[]> {
  return (await parse(languageId, text, (root, python) => importBindings(root, python))) ?? [];
}

function importBindings(root: SyntaxNode, python: boolean): ImportedName[] {
  const names: ImportedName[] = [];
  const bind = (node: SyntaxNode | null | undefined) => {
    if (node && (node.type === 'identifier' || node.type === 'dotted_name') && !node.text.includes('.')) names.push({ name: node.text, offset: node.startIndex });
  };
  for (const stmt of root.namedChildren) {
    if (!stmt) continue;
    if (python) {
      if (stmt.type !== 'import_from_statement') continue;
      for (const n of stmt.childrenForFieldName('name')) {
        if (n?.type === 'aliased_import') bind(n.childForFieldName('alias'));
        else bind(n);
      }
      continue;
    }
    if (stmt.type !== 'import_statement') continue;
    for (const part of stmt.namedChildren) {
      if (part?.type === 'import_require_clause') bind(part.namedChildren.find((c) => c?.type === 'identifier'));
      if (part?.type !== 'import_clause') continue;
      for (const c of part.namedChildren) {
        if (c?.type === 'identifier') bind(c);
        if (c?.type !== 'named_imports') continue;
        for (const spec of c.namedChildren) {
          if (spec?.type === 'import_specifier') bind(spec.childForFieldName('alias') ?? spec.childForFieldName('name'));
        }
      }
    }
  }
  return names;
}

const USE_TYPES = { ts: ['identifier', 'type_identifier', 'shorthand_property_identifier'], python: ['identifier'] };

function rankByUse(root: SyntaxNode, python: boolean, bindings: ImportedName[], offset: number): ImportedName[] {
  if (bindings.length === 0) return [];
  const imports = root.namedChildren.filter((s) => s && /^import_(?:from_)?statement$/.test(s.type)).map((s) => [s!.startIndex, s!.endIndex]);
  const byName = new Map(bindings.map((b) => [b.name, { binding: b, before: Infinity, after: Infinity }]));
  for (const use of root.descendantsOfType(python ? USE_TYPES.python : USE_TYPES.ts)) {
    if (!use) continue;
    const entry = byName.get(use.text);
    if (!entry || imports.some(([s, e]) => use.startIndex >= s && use.endIndex <= e)) continue;
    // `obj.Name` (Python's attribute) is another object's member, not the import.
    if (python && use.parent?.type === 'attribute' && use.parent.childForFieldName('attribute')?.id === use.id) continue;
    if (use.startIndex < offset) entry.before = Math.min(entry.before, Math.max(0, offset - use.endIndex));
    else entry.after = Math.min(entry.after, use.startIndex - offset);
  }
  const used = [...byName.values()].filter((e) => e.before < Infinity || e.after < Infinity);
  used.sort((a, b) => (a.before < Infinity) !== (b.before < Infinity) ? (a.before < Infinity ? -1 : 1)
    : a.before < Infinity ? a.before - b.before : a.after - b.after);
  return used.map((e) => e.binding);
}

// ---------------------------------------------------------------------------------------------
// Declaration outlines

/**
 * The top-level declaration at (line, character) rendered with its bodies left out (see
 * `renderDeclarations`), cut to `maxChars` on a line boundary; undefined when no declaration is there
 * or not even its first line fits.
 */
export async function declarationOutline(languageId: string, fileText: string, line: number, character: number, maxChars: number): Promise<DeclarationOutline | undefined> {
  const rendered = await parse(languageId, fileText, (root, python) => renderDeclarations(root, fileText, python));
  return rendered && outlineAt(rendered, line, character, maxChars);
}

function outlineAt(rendered: readonly Rendered[], line: number, character: number, maxChars: number): DeclarationOutline | undefined {
  const before = (a: { row: number; column: number }, row: number, column: number) => a.row < row || (a.row === row && a.column <= column);
  const decl = rendered.find((d) => before(d.start, line, character) && !before(d.end, line, character - 1));
  if (!decl) return undefined;
  const text = capLines(decl.lines, decl.closer, decl.headerLines ?? 1, maxChars);
  return text === undefined ? undefined : { name: decl.name, startLine: decl.start.row, endLine: decl.end.row, text };
}

/** Whole lines that fit in `maxChars`, with the closer appended when lines were cut; undefined when the header does not fit. */
function capLines(lines: readonly string[], closer: string | undefined, headerLines: number, maxChars: number): string | undefined {
  const whole = closer === undefined ? lines : [...lines, closer];
  const full = whole.join('\n');
  if (full.length <= maxChars) return full;
  const reserve = closer === undefined ? 0 : closer.length + 1;
  let length = 0, count = 0;
  while (count < lines.length && length + lines[count].length + (count > 0 ? 1 : 0) + reserve <= maxChars) {
    length += lines[count].length + (count > 0 ? 1 : 0);
    count++;
  }
  if (count < Math.min(headerLines, lines.length)) return undefined;
  return closer === undefined ? lines.slice(0, count).join('\n') : [...lines.slice(0, count), closer].join('\n');
}

/** The file's top-level declarations (and those inside namespaces and `declare module`), rendered. */
function renderDeclarations(root: SyntaxNode, text: string, python: boolean): Rendered[] {
  const out: Rendered[] = [];
  const visit = (container: SyntaxNode) => {
    for (const stmt of container.namedChildren) {
      if (!stmt) continue;
      const r = python ? renderPython(stmt, text) : renderTs(stmt, text, visit);
      if (r) out.push(r);
    }
  };
  visit(root);
  return out;
}

/** The whitespace before `offset` on its line. */
function indentAt(text: string, offset: number): string {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const lead = text.slice(lineStart, offset);
  return /^\s*$/.test(lead) ? lead : '';
}

/**
 * `text[start, end)` with the comments in `node` removed (a comment alone on its line takes the line
 * with it) and `replace` ranges substituted, split into lines; blank lines are dropped.
 */
function sliceLines(text: string, node: SyntaxNode, start: number, end: number, replace: { start: number; end: number; with: string }[] = []): string[] {
  const edits = [...replace];
  for (const c of node.descendantsOfType('comment')) {
    if (!c || c.startIndex < start || c.endIndex > end) continue;
    let s = c.startIndex;
    while (s > start && (text[s - 1] === ' ' || text[s - 1] === '\t')) s--;
    edits.push({ start: s, end: c.endIndex, with: '' });
  }
  edits.sort((a, b) => a.start - b.start);
  let result = indentAt(text, start);
  let at = start;
  for (const e of edits) {
    if (e.start < at) continue; // nested in an earlier edit
    result += text.slice(at, e.start) + e.with;
    at = e.end;
  }
  result += text.slice(at, end);
  return result.split('\n').map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
}

function nameOf(node: SyntaxNode): string {
  return node.childForFieldName('name')?.text ?? '';
}

function span(outer: SyntaxNode) {
  return { start: { row: outer.startPosition.row, column: outer.startPosition.column }, end: { row: outer.endPosition.row, column: outer.endPosition.column } };
}

const TS_CLASSES = new Set(['class_declaration', 'abstract_class_declaration', 'class']);
const TS_WHOLE = new Set(['interface_declaration', 'type_alias_declaration', 'enum_declaration', 'function_signature']);
const TS_FUNCTIONS = new Set(['function_declaration', 'generator_function_declaration']);
const TS_NAMESPACES = new Set(['internal_module', 'module']);

/** `outer` is a top-level statement; `export`, `declare` and decorators before the declaration stay. */
function renderTs(outer: SyntaxNode, text: string, visit: (container: SyntaxNode) => void): Rendered | undefined {
  let decl: SyntaxNode | null = outer;
  for (;;) {
    if (decl?.type === 'export_statement') decl = decl.childForFieldName('declaration');
    else if (decl?.type === 'ambient_declaration' || (decl?.type === 'expression_statement' && decl.namedChildCount === 1)) decl = decl.namedChild(decl.namedChildCount - 1);
    else break;
  }
  if (!decl) return undefined;
  if (TS_NAMESPACES.has(decl.type)) {
    const body = decl.childForFieldName('body');
    if (body) visit(body);
    return undefined;
  }
  const closerOf = (lines: string[]) => {
    const last = lines[lines.length - 1];
    return lines.length > 1 && /^\s*\}[;,]?$/.test(last) ? { lines: lines.slice(0, -1), closer: last } : { lines };
  };
  if (TS_WHOLE.has(decl.type)) return { name: nameOf(decl), ...span(outer), ...closerOf(sliceLines(text, outer, outer.startIndex, outer.endIndex)) };
  if (TS_FUNCTIONS.has(decl.type)) {
    const body = decl.childForFieldName('body');
    if (!body) return undefined;
    const lines = sliceLines(text, outer, outer.startIndex, body.startIndex);
    lines[lines.length - 1] += ';';
    return { name: nameOf(decl), ...span(outer), lines };
  }
  if (TS_CLASSES.has(decl.type)) {
    const body = decl.childForFieldName('body');
    if (!body) return undefined;
    const lines = sliceLines(text, outer, outer.startIndex, body.startIndex);
    lines[lines.length - 1] += ' {';
    const headerLines = lines.length;
    let decorators: string[] = [];
    let overload: string | undefined;
    for (const member of body.namedChildren) {
      if (!member || member.type === 'comment') continue;
      if (member.type === 'decorator') { decorators.push(...sliceLines(text, member, member.startIndex, member.endIndex)); continue; }
      // An overloaded method's implementation signature is not callable from outside.
      const name = nameOf(member);
      const implementsOverload = member.type === 'method_definition' && name === overload;
      overload = member.type === 'method_signature' ? name : undefined;
      const rendered = implementsOverload ? undefined : renderTsMember(member, text);
      if (rendered) lines.push(...decorators, ...rendered);
      decorators = [];
    }
    return { name: nameOf(decl), ...span(outer), lines, closer: indentAt(text, outer.startIndex) + '}', headerLines };
  }
  if (decl.type === 'lexical_declaration' || decl.type === 'variable_declaration') {
    const replace = decl.namedChildren.flatMap((d) => {
      const body = d?.type === 'variable_declarator' ? functionBody(d.childForFieldName('value')) : undefined;
      return body ? [{ start: body.startIndex, end: body.endIndex, with: '{ ... }' }] : [];
    });
    const first = decl.namedChildren.find((d) => d?.type === 'variable_declarator');
    return first ? { name: nameOf(first), ...span(outer), ...closerOf(sliceLines(text, outer, outer.startIndex, outer.endIndex, replace)) } : undefined;
  }
  return undefined;
}

/** The block body of an arrow function or function expression (an expression body only when it spans lines). */
function functionBody(value: SyntaxNode | null | undefined): SyntaxNode | undefined {
  if (!value || (value.type !== 'arrow_function' && value.type !== 'function_expression' && value.type !== 'function')) return undefined;
  const body = value.childForFieldName('body');
  return body && (body.type === 'statement_block' || body.startPosition.row !== body.endPosition.row) ? body : undefined;
}

/** Private members (`#x`, `private x`) are not what an importer can use: left out. */
function isPrivate(member: SyntaxNode): boolean {
  const name = member.childForFieldName('name');
  if (name?.type === 'private_property_identifier') return true;
  return member.namedChildren.some((c) => c?.type === 'accessibility_modifier' && c.text === 'private');
}

function renderTsMember(member: SyntaxNode, text: string): string[] | undefined {
  switch (member.type) {
    case 'method_definition': {
      if (isPrivate(member)) return undefined;
      const body = member.childForFieldName('body');
      const lines = sliceLines(text, member, member.startIndex, body?.startIndex ?? member.endIndex);
      lines[lines.length - 1] += ';';
      return lines;
    }
    case 'method_signature': case 'abstract_method_signature': case 'index_signature': {
      if (isPrivate(member)) return undefined;
      const lines = sliceLines(text, member, member.startIndex, member.endIndex);
      lines[lines.length - 1] += ';';
      return lines;
    }
    case 'public_field_definition': {
      if (isPrivate(member)) return undefined;
      const value = member.childForFieldName('value');
      const body = functionBody(value);
      let lines: string[];
      if (body) lines = sliceLines(text, member, member.startIndex, member.endIndex, [{ start: body.startIndex, end: body.endIndex, with: '{ ... }' }]);
      else if (value && (value.startPosition.row !== value.endPosition.row || value.text.length > 80)) {
        // A long initializer says little about the field's type: keep the declaration before `=`.
        const eq = text.lastIndexOf('=', value.startIndex);
        lines = sliceLines(text, member, member.startIndex, eq);
      } else lines = sliceLines(text, member, member.startIndex, member.endIndex);
      if (lines.length === 0) return undefined;
      lines[lines.length - 1] += ';';
      return lines;
    }
    default:
      return undefined; // static blocks, stray `;`
  }
}

/** Python: a `def`'s signature with `...` as its body; a class's header, fields and method signatures. */
function renderPython(outer: SyntaxNode, text: string): Rendered | undefined {
  const decl = outer.type === 'decorated_definition' ? outer.childForFieldName('definition') : outer;
  if (!decl) return undefined;
  if (decl.type === 'function_definition') {
    const lines = pythonSignature(outer, decl, text);
    return lines && { name: nameOf(decl), ...span(outer), lines };
  }
  if (decl.type === 'class_definition') {
    const body = decl.childForFieldName('body');
    if (!body) return undefined;
    const lines = sliceLines(text, outer, outer.startIndex, body.startIndex);
    const headerLines = lines.length;
    for (const member of body.namedChildren) {
      if (!member) continue;
      const def = member.type === 'decorated_definition' ? member.childForFieldName('definition') : member;
      if (def?.type === 'function_definition') {
        const name = nameOf(def);
        if (name.startsWith('_') && !/^__\w+__$/.test(name)) continue; // private helpers
        lines.push(...(pythonSignature(member, def, text) ?? []));
      } else if (def?.type === 'class_definition') {
        const inner = def.childForFieldName('body');
        if (inner) lines.push(...appendLast(sliceLines(text, member, member.startIndex, inner.startIndex), ' ...'));
      } else if (member.type === 'expression_statement') {
        lines.push(...pythonField(member, text));
      }
    }
    if (lines.length === headerLines) lines.push(indentAt(text, body.startIndex) + '...');
    return { name: nameOf(decl), ...span(outer), lines, headerLines };
  }
  if (decl.type === 'expression_statement' || decl.type === 'type_alias_statement') {
    const lines = decl.type === 'expression_statement' ? pythonField(decl, text) : sliceLines(text, decl, decl.startIndex, decl.endIndex);
    const target = decl.namedChild(0)?.childForFieldName('left') ?? decl.namedChild(0)?.namedChild(0);
    return lines.length > 0 ? { name: target?.text ?? '', ...span(outer), lines } : undefined;
  }
  return undefined;
}

function appendLast(lines: string[], suffix: string): string[] {
  if (lines.length > 0) lines[lines.length - 1] += suffix;
  return lines;
}

function pythonSignature(outer: SyntaxNode, def: SyntaxNode, text: string): string[] | undefined {
  const body = def.childForFieldName('body');
  return body ? appendLast(sliceLines(text, outer, outer.startIndex, body.startIndex), ' ...') : undefined;
}

/** An assignment (`x: int = 0`, `Alias = Union[A, B]`); a value over several lines becomes `...`. Docstrings and other statements: nothing. */
function pythonField(stmt: SyntaxNode, text: string): string[] {
  const assignment = stmt.namedChild(0);
  if (assignment?.type !== 'assignment') return [];
  const value = assignment.childForFieldName('right');
  if (value && value.startPosition.row !== value.endPosition.row) {
    return appendLast(sliceLines(text, stmt, stmt.startIndex, value.startIndex), '...');
  }
  return sliceLines(text, stmt, stmt.startIndex, stmt.endIndex);
}

// ---------------------------------------------------------------------------------------------

/** The language id of a file a server points to, from its extension (undefined: no grammar for it). */
export function languageOfUri(uri: string): string | undefined {
  const m = /\.([cm]?[jt]sx?|pyi?)$/.exec(uri.replace(/[?#].*$/, ''));
  if (!m) return undefined;
  const ext = m[1];
  if (ext.startsWith('py')) return 'python';
  const react = ext.endsWith('x');
  return ext.includes('t') ? (react ? 'typescriptreact' : 'typescript') : (react ? 'javascriptreact' : 'javascript');
}

/** Rendered declarations per file text, for the files the server keeps pointing to (least recently used dropped). */
export class OutlineCache {
  private readonly entries = new Map<string, Rendered[]>();

  constructor(private readonly capacity = 32) {}

  async outline(languageId: string, uri: string, text: string, line: number, character: number, maxChars: number): Promise<DeclarationOutline | undefined> {
    const key = `${languageId}\u0000${uri}\u0000${hashString(text)}`;
    let rendered = this.entries.get(key);
    if (rendered) this.entries.delete(key);
    else rendered = await parse(languageId, text, (root, python) => renderDeclarations(root, text, python));
    if (!rendered) return undefined;
    this.entries.set(key, rendered);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return outlineAt(rendered, line, character, maxChars);
  }

  get size(): number { return this.entries.size; }
}
