// Output filters: each is a small async-generator transform over streamed text chunks, applied in order.
// They only cut or hold back text; none invents any.

export type TextTransform = (chunks: AsyncIterable<string>) => AsyncGenerator<string, void, undefined>;

export async function* fromArray(chunks: readonly string[]): AsyncGenerator<string, void, undefined> {
  yield* chunks;
}

export function pipe(source: AsyncIterable<string>, transforms: readonly TextTransform[]): AsyncIterable<string> {
  return transforms.reduce<AsyncIterable<string>>((s, t) => t(s), source);
}

export async function collect(chunks: AsyncIterable<string>): Promise<string> {
  let text = '';
  for await (const c of chunks) text += c;
  return text;
}

const leadingWs = (line: string): string => /^[ \t]*/.exec(line)![0];
const indentWidth = (ws: string): number => [...ws].reduce((n, ch) => n + (ch === '\t' ? 4 : 1), 0);

/** Ends the completion at the first newline (the cursor sits before other text on its line). */
export function stopAtLineEnd(): TextTransform {
  return async function* (chunks) {
    for await (const c of chunks) {
      const nl = c.indexOf('\n');
      if (nl >= 0) {
        if (nl > 0) yield c.slice(0, nl);
        return;
      }
      yield c;
    }
  };
}

/**
 * Splits the stream into lines and lets `decide` see each line after the first as soon as its
 * indentation is known (its first non-blank character arrived, or it ended blank). Text of the
 * current line streams through once decided.
 */
const OPENERS = '([{';

function lineGate(decide: (indent: string, firstChar: string, depth: number, afterBlank: boolean) => 'keep' | 'stopBefore' | 'keepThenStop'): TextTransform {
  return async function* (chunks) {
    // Newlines and indentation of a line not yet judged are held back, so a rejected line leaves no trace.
    let pending = '';
    let decided = true; // the first line continues the cursor's line: always kept
    let stopAfterLine = false;
    let depth = 0; // bracket depth of the kept text (strings and comments not excluded: a heuristic)
    for await (const chunk of chunks) {
      let out = '';
      for (const ch of chunk) {
        if (OPENERS.includes(ch)) depth++;
        else if (')]}'.includes(ch)) depth--;
        if (ch === '\n') {
          if (stopAfterLine) {
            if (out) yield out;
            return;
          }
          if (decided) pending = '';
          else pending = pending.replace(/[ \t]+$/, ''); // a blank line: keep its newline, held
          pending += '\n';
          decided = false;
        } else if (decided) {
          out += ch;
        } else if (ch === ' ' || ch === '\t') {
          pending += ch;
        } else {
          const afterBlank = pending.indexOf('\n') !== pending.lastIndexOf('\n'); // a blank line came before it
          const verdict = decide(pending.slice(pending.lastIndexOf('\n') + 1), ch, ')]}'.includes(ch) ? depth + 1 : depth, afterBlank);
          if (verdict === 'stopBefore') {
            if (out) yield out;
            return;
          }
          stopAfterLine = verdict === 'keepThenStop';
          out += pending + ch;
          pending = '';
          decided = true;
        }
      }
      if (out) yield out;
    }
  };
}

/**
 * Multi-line completions end where the block ends: a later line indented less than the cursor's line
 * ends it (that line is not shown); once the completion opened a deeper block, a line back at the
 * cursor's indentation ends it too, kept when it is the block's closing bracket. A comment that starts
 * after a blank line, outside any bracket the completion opened, ends it as well: that is the next
 * section of the file (the built-in model likes to go on with a doc comment), not what the user is
 * writing, and accepting it would leave an open `/**`.
 */
export function stopAtBlockEnd(prefix: string): TextTransform {
  const cursorLine = prefix.slice(prefix.lastIndexOf('\n') + 1);
  const base = indentWidth(leadingWs(cursorLine));
  let wentDeeper = false;
  return lineGate((indent, firstChar, depth, afterBlank) => {
    // A closing bracket the completion did not open closes the cursor's enclosing block.
    if (')]}'.includes(firstChar) && depth <= 0) return 'stopBefore';
    if (afterBlank && firstChar === '/' && depth <= 0) return 'stopBefore';
    const width = indentWidth(indent);
    if (width < base) return 'stopBefore';
    if (width > base) {
      wentDeeper = true;
      return 'keep';
    }
    if (!wentDeeper) return 'keep';
    return ')]}'.includes(firstChar) ? 'keepThenStop' : 'stopBefore';
  });
}

/**
 * Stops before a generated line that repeats the next non-blank line after the cursor: the model has
 * run into code that already follows. Lines are held until complete so none is half shown.
 */
export function stopAtRepeatedSuffix(suffix: string): TextTransform {
  const next = suffix.split('\n').slice(1).map((l) => l.trim()).find((l) => l.length > 0);
  return async function* (chunks) {
    if (next === undefined) {
      yield* chunks;
      return;
    }
    let buf = '';
    let first = true;
    for await (const chunk of chunks) {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        if (!first && line.trim() === next) return;
        yield line + '\n';
        first = false;
        buf = buf.slice(nl + 1);
      }
      if (first && buf) {
        // The cursor's own line streams at once; it is judged against the text after the cursor elsewhere.
        yield buf;
        buf = '';
      }
    }
    if (buf && !(buf.trim() === next)) yield buf;
  };
}

/**
 * When the cursor sits before text on its line and the completion's line ends by re-typing that text
 * (say the model writes `foo)` before an existing `)`), drop the repeated tail.
 */
export function dropLineSuffixOverlap(suffix: string): TextTransform {
  const rest = suffix.slice(0, suffix.indexOf('\n') >= 0 ? suffix.indexOf('\n') : suffix.length).trimEnd();
  return async function* (chunks) {
    if (rest.trim() === '') {
      yield* chunks;
      return;
    }
    // Mid-line completions are single lines: hold the whole line, then cut its repeated tail.
    let text = await collect(chunks);
    const at = text.lastIndexOf(rest);
    if (at >= 0) text = text.slice(0, at); // `10, 20);` before an existing `)`: keep `10, 20`
    else {
      // A partial repeat of the start of the existing text (`fo` + existing `o)`): also redundant.
      for (let k = Math.min(rest.length, text.length); k > 0; k--) {
        if (text.endsWith(rest.slice(0, k)) && (k >= 2 || CLOSERS.includes(rest[0]))) {
          text = text.slice(0, -k);
          break;
        }
      }
    }
    if (text) yield text;
  };
}

const CLOSERS = ')]}\'"`;';

/** Holds back trailing whitespace until something follows it, so the completion never ends in blanks. */
export function trimTrailingWhitespace(): TextTransform {
  return async function* (chunks) {
    let held = '';
    for await (const chunk of chunks) {
      const all = held + chunk;
      const cut = all.trimEnd().length;
      held = all.slice(cut);
      if (cut > 0) yield all.slice(0, cut);
    }
  };
}

/** The filter chain for a request, in order. */
export function completionFilters(prefix: string, suffix: string, singleLine: boolean): TextTransform[] {
  return [
    ...(singleLine ? [stopAtLineEnd()] : [stopAtBlockEnd(prefix), stopAtRepeatedSuffix(suffix)]),
    dropLineSuffixOverlap(suffix),
    trimTrailingWhitespace(),
  ];
}

/** True when the cursor is followed by other (non-blank) text on its line: only one line is completed then. */
export function isMidLine(suffix: string): boolean {
  const nl = suffix.indexOf('\n');
  return (nl >= 0 ? suffix.slice(0, nl) : suffix).trim() !== '';
}

/** Ghost text worth showing: not blank, and not merely the text that already follows the cursor. */
export function isUseful(text: string, suffix: string): boolean {
  if (text.trim() === '') return false;
  const after = suffix.trimStart();
  return !after.startsWith(text.trim());
}
