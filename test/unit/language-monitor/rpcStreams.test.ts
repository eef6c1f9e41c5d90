// The synchronous JSON-RPC framing: messages split across chunks or sharing one are delivered whole, in
// order, in the data callback that completed them; the interceptor takes what it claims.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import type { Message } from 'vscode-languageserver-protocol/node';
import { SyncMessageReader, SyncMessageWriter } from '../../../language-monitor/rpcStreams.js';

const frame = (msg: object) => {
  const body = Buffer.from(JSON.stringify(msg), 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]);
};

void test('reader: split and joined frames, multi-byte text, interception', () => {
  const stream = new PassThrough();
  const intercepted: Message[] = [];
  const delivered: Message[] = [];
  const reader = new SyncMessageReader(stream, (m) => { if ((m as { id?: number }).id === 7) { intercepted.push(m); return true; } return false; });
  reader.listen((m) => delivered.push(m));
  const a = frame({ jsonrpc: '2.0', id: 7, result: { label: 'größe😀' } });
  const b = frame({ jsonrpc: '2.0', method: 'window/logMessage', params: { message: 'x' } });
  // `emit` calls the listeners synchronously, as a socket read does.
  stream.emit('data', a.subarray(0, 10));
  assert.equal(reader.midMessage, true);
  stream.emit('data', Buffer.concat([a.subarray(10, a.length - 3)]));
  assert.equal(intercepted.length, 0);
  stream.emit('data', Buffer.concat([a.subarray(a.length - 3), b]));
  assert.deepEqual(intercepted.map((m) => (m as unknown as { result: { label: string } }).result.label), ['größe😀']);
  assert.deepEqual(delivered.map((m) => (m as unknown as { method: string }).method), ['window/logMessage']);
  assert.equal(reader.midMessage, false);
  assert.equal(reader.bytesRead, a.length + b.length);
});

void test('writer: one frame per message, written at once', () => {
  const stream = new PassThrough();
  const writer = new SyncMessageWriter(stream);
  void writer.write({ jsonrpc: '2.0', id: 1, method: 'x', params: { s: 'ü' } } as Message);
  const written = stream.read() as Buffer; // synchronously there
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'x', params: { s: 'ü' } });
  assert.equal(written.toString('utf8'), `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
});
