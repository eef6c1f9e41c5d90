/**
 * One error type for everything that is wrong with a model folder or a request: it names the file (or
 * input) and what was expected, so the user can act on it without reading a stack trace.
 */
export class ModelError extends Error {
  override readonly name = 'ModelError';
  constructor(
    /** The file (or input, e.g. "document") the problem is in. */
    readonly file: string,
    /** What was expected there and what was found. */
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${problem}`, options);
  }
}
