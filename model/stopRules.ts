import type { StopRule } from './types.js';

const leadingWs = (s: string) => /^[ \t]*/.exec(s)![0];

/** Visual width of indentation (tab = 4) so that mixed tabs/spaces compare sensibly. */
function indentWidth(ws: string): number {
  let w = 0;
  for (const ch of ws) w += ch === '\t' ? 4 : 1;
  return w;
}

/**
 * Text-level stop rules. `check` returns the length of the text to keep when a rule fires, or
 * undefined to go on. `linePrefix` is the cursor's line before the cursor: the first generated line
 * continues it, so its indentation is where the block starts.
 */
export class StopChecker {
  private readonly strings: string[];
  private readonly endOfLine: boolean;
  private readonly endOfBlock: boolean;

  constructor(rules: readonly StopRule[], private readonly linePrefix = '') {
    this.strings = rules.flatMap((r) => (r.kind === 'strings' ? r.strings.filter((s) => s.length > 0) : []));
    this.endOfLine = rules.some((r) => r.kind === 'endOfLine');
    this.endOfBlock = rules.some((r) => r.kind === 'endOfBlock');
  }

  check(text: string): number | undefined {
    let cut: number | undefined;
    const earliest = (at: number) => {
      if (cut === undefined || at < cut) cut = at;
    };
    for (const s of this.strings) {
      const at = text.indexOf(s);
      if (at >= 0) earliest(at);
    }
    if (this.endOfLine) {
      // On a cursor line with content the first line break ends the completion; on a blank line,
      // leading line breaks are skipped and the first line with content is kept.
      const content = /[^\s]/.test(this.linePrefix) ? { index: 0 } : /[^\s]/.exec(text);
      if (content) {
        const nl = text.indexOf('\n', content.index);
        if (nl >= 0) earliest(nl > 0 && text[nl - 1] === '\r' ? nl - 1 : nl);
      }
    }
    if (this.endOfBlock) {
      const at = this.blockEnd(text);
      if (at !== undefined) earliest(at);
    }
    return cut;
  }

  /**
   * How much of `text` can be shown now: no later token can make a rule cut before this point.
   * (A stop string may be starting at the end; a line break may turn out to end the block.)
   */
  safeLength(text: string): number {
    let safe = text.length;
    for (const s of this.strings) {
      for (let k = Math.min(s.length - 1, text.length); k > 0; k--) {
        if (text.endsWith(s.slice(0, k))) {
          safe = Math.min(safe, text.length - k);
          break;
        }
      }
    }
    if (this.endOfLine && text.endsWith('\r')) safe = Math.min(safe, text.length - 1);
    if (this.endOfBlock) {
      const nl = text.lastIndexOf('\n');
      if (nl >= 0) safe = Math.min(safe, nl > 0 && text[nl - 1] === '\r' ? nl - 1 : nl);
    }
    return safe;
  }

  /**
   * Where the block that the cursor's line belongs to ends. The reference indentation is the
   * cursor line's (or, when that line is blank, the first generated line with content). The text is
   * cut before the first later line indented less than that. When the cursor line opens a block
   * (ends with `{`, `(`, `[` or `:`), the line that closes it at the reference indentation is kept
   * and the text ends after it.
   */
  private blockEnd(text: string): number | undefined {
    const full = this.linePrefix + text;
    const lines = full.split('\n');
    const first = lines[0].replace(/\r$/, '');
    let ref = first.trim() !== '' ? indentWidth(leadingWs(first)) : undefined;
    const opens = /[{([:]\s*$/.test(first);
    let start = lines[0].length + 1; // offset in `full` of line i
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i].replace(/\r$/, '');
      const complete = i < lines.length - 1;
      const breakBefore = start - 1 - this.linePrefix.length; // offset in `text` of the '\n' before line i
      if (line.trim() !== '') {
        const w = indentWidth(leadingWs(line));
        if (ref === undefined) ref = w;
        else if (w < ref) return full[start - 2] === '\r' ? breakBefore - 1 : breakBefore;
        else if (opens && w === ref && complete) return start + lines[i].length - this.linePrefix.length - (lines[i].endsWith('\r') ? 1 : 0);
      }
      start += lines[i].length + 1;
    }
    return undefined;
  }
}
