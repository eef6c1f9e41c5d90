import fs from 'node:fs';
import { ModelError } from './errors.js';

/** Larger documents are refused: the prompt only ever uses a window around the cursor. */
export const maxDocumentBytes = 16 * 1024 * 1024;

/** Reads a source file as UTF-8, refusing binary or non-UTF-8 content and oversized files clearly. */
export function readDocument(file: string): string {
  let bytes: Buffer;
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw new ModelError(file, 'is not a file; expected a source file');
    if (stat.size > maxDocumentBytes) {
      throw new ModelError(file, `is ${(stat.size / 1048576).toFixed(1)} MB; documents up to ${maxDocumentBytes / 1048576} MB are supported`);
    }
    bytes = fs.readFileSync(file);
  } catch (err) {
    if (err instanceof ModelError) throw err;
    throw new ModelError(file, `cannot be read (${(err as Error).message})`, { cause: err });
  }
  return decodeDocument(bytes, file);
}

export function decodeDocument(bytes: Uint8Array, name = 'document'): string {
  if (bytes.length > maxDocumentBytes) {
    throw new ModelError(name, `is ${(bytes.length / 1048576).toFixed(1)} MB; documents up to ${maxDocumentBytes / 1048576} MB are supported`);
  }
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    if (text.includes('\u0000')) throw new Error('NUL byte');
    return text;
  } catch (err) {
    throw new ModelError(name, `is not UTF-8 text (${(err as Error).message}); expected a UTF-8 source file`, { cause: err });
  }
}

export interface SplitDocument {
  readonly prefix: string;
  readonly suffix: string;
  /** The cursor's line before the cursor. */
  readonly linePrefix: string;
  /** Offset of the cursor in UTF-16 code units. */
  readonly offset: number;
}

/**
 * Splits a document at a 1-based LINE:COL (VS Code's numbering: COL counts UTF-16 code units, and the
 * cursor sits before the character at COL; COL = line length + 1 is the end of the line). Lines end
 * at \n, \r\n or a lone \r, as in VS Code.
 */
export function splitAt(text: string, line: number, col: number): SplitDocument {
  if (!Number.isInteger(line) || !Number.isInteger(col) || line < 1 || col < 1) {
    throw new ModelError('position', `${line}:${col} is not a valid LINE:COL (both are integers from 1)`);
  }
  const breaks = /\r\n|\r|\n/g;
  let lineStart = 0;
  for (let l = 1; l < line; l++) {
    const m = breaks.exec(text);
    if (!m) throw new ModelError('position', `line ${line} is past the end of the document (${l} line${l === 1 ? '' : 's'})`);
    lineStart = m.index + m[0].length;
  }
  const m = breaks.exec(text);
  const lineEnd = m ? m.index : text.length;
  const length = lineEnd - lineStart;
  if (col > length + 1) throw new ModelError('position', `column ${col} is past the end of line ${line} (${length} characters; the last valid column is ${length + 1})`);
  const offset = lineStart + col - 1;
  const code = text.charCodeAt(offset - 1);
  if (col > 1 && code >= 0xd800 && code <= 0xdbff) throw new ModelError('position', `${line}:${col} falls inside a surrogate pair`);
  return { prefix: text.slice(0, offset), suffix: text.slice(offset), linePrefix: text.slice(lineStart, offset), offset };
}
