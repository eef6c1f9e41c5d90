// JSON-RPC framing over a language server's stdio, synchronous in both directions.
//
// vscode-jsonrpc's stream reader and writer each pass every message through a semaphore that hops a
// setImmediate, and its connection dispatches one queued message per further setImmediate. A request
// written that way reaches the server only after the current synchronous work (a model forward pass)
// ends, and a reply read from the pipe reaches its promise some immediates after the read. Here a write
// goes to the pipe at once, and the reader hands every complete message to an interceptor in the very
// I/O callback that read it: LspSession resolves its bounded requests there, so "the reply has arrived"
// is known as soon as the event loop has read the pipe (see LspSession.request for the deadline rule).
import type { Readable, Writable } from 'node:stream';
import { AbstractMessageReader, AbstractMessageWriter, type DataCallback, type Disposable, type Message, type MessageReader, type MessageWriter } from 'vscode-languageserver-protocol/node';

const HEADER_END = Buffer.from('\r\n\r\n', 'ascii');

export class SyncMessageWriter extends AbstractMessageWriter implements MessageWriter {
  private errors = 0;

  constructor(private readonly stream: Writable) {
    super();
    stream.on('error', (err: Error) => this.fireError(err, undefined, ++this.errors));
    stream.on('close', () => this.fireClose());
  }

  write(msg: Message): Promise<void> {
    const body = Buffer.from(JSON.stringify(msg), 'utf8');
    try {
      this.stream.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]));
    } catch (err) {
      this.fireError(err, msg, ++this.errors);
      return Promise.reject(err as Error);
    }
    return Promise.resolve();
  }

  end(): void { /* the session ends the process */ }
}

export class SyncMessageReader extends AbstractMessageReader implements MessageReader {
  private buffer: Buffer = Buffer.alloc(0);
  private bodyLength = -1;
  private callback: DataCallback | undefined;

  /** `intercept` sees every message first; returning true keeps it from the connection. */
  constructor(private readonly stream: Readable, private readonly intercept: (msg: Message) => boolean) {
    super();
    stream.on('error', (err: Error) => this.fireError(err));
    stream.on('close', () => this.fireClose());
  }

  /** Bytes read from the stream so far. */
  bytesRead = 0;

  /** Bytes of a message not yet complete are buffered (its rest is still on its way). */
  get midMessage(): boolean { return this.buffer.length > 0; }

  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    const onData = (chunk: Buffer): void => this.onData(chunk);
    this.stream.on('data', onData);
    return { dispose: () => { this.stream.off('data', onData); } };
  }

  private onData(chunk: Buffer): void {
    this.bytesRead += chunk.length;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.bodyLength < 0) {
        const end = this.buffer.indexOf(HEADER_END);
        if (end < 0) return;
        const headers = this.buffer.subarray(0, end).toString('ascii');
        const m = /(?:^|\r\n)content-length:\s*(\d+)/i.exec(headers);
        this.buffer = this.buffer.subarray(end + HEADER_END.length);
        if (!m) { this.fireError(new Error(`header without Content-Length: ${JSON.stringify(headers)}`)); continue; }
        this.bodyLength = Number(m[1]);
      }
      if (this.buffer.length < this.bodyLength) return;
      const body = this.buffer.subarray(0, this.bodyLength).toString('utf8');
      this.buffer = this.buffer.subarray(this.bodyLength);
      if (this.buffer.length === 0) this.buffer = Buffer.alloc(0);
      this.bodyLength = -1;
      let msg: Message;
      try {
        msg = JSON.parse(body) as Message;
      } catch (err) {
        this.fireError(err);
        continue;
      }
      if (!this.intercept(msg)) this.callback?.(msg);
    }
  }
}
