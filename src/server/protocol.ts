// Answers for what never reaches the Koa app: requests Node's HTTP parser refuses (an unknown method, headers over the
// limit, garbage) and CONNECT, which Node hands to a 'connect' listener or, without one, drops unanswered. Each gets a
// Kubernetes Status and the connection is closed, as Go's server closes it after such an answer.
import type { Server } from 'node:https';
import type { Duplex } from 'node:stream';
import { badRequest, methodNotSupported, StatusError } from '../api/errors.ts';

/**
 * kube-apiserver serves headers up to Go's http.DefaultMaxHeaderBytes (1 MiB); Node's default of 16 KiB would refuse
 * the large X-Remote-Group / X-Remote-Extra-* sets the aggregator forwards.
 */
export const MAX_HEADER_BYTES = 1024 * 1024;

const REASON_PHRASES: Record<number, string> = {
  400: 'Bad Request',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

export function answerUnparsedRequests(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // A client that went away needs no answer.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    writeStatus(socket, statusFor(err));
  });
  server.on('connect', (_req, socket: Duplex) => writeStatus(socket, methodNotSupported()));
}

function statusFor(err: NodeJS.ErrnoException): StatusError {
  switch (err.code) {
    case 'HPE_INVALID_METHOD':
      return methodNotSupported();
    case 'HPE_HEADER_OVERFLOW':
      return new StatusError(431, 'RequestHeaderFieldsTooLarge', `the request headers are larger than ${MAX_HEADER_BYTES} bytes`);
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new StatusError(408, 'Timeout', 'the request was not received in time');
    default:
      return badRequest(`the request could not be parsed: ${err.code ?? err.message}`);
  }
}

/** How much more of a refused request is read, and for how long, before the connection is dropped. */
const LINGER_BYTES = 256 * 1024;
const LINGER_MS = 500;

function writeStatus(socket: Duplex, status: StatusError): void {
  const body = JSON.stringify(status.toStatus());
  socket.once('error', () => socket.destroy());
  // A client still sending (the rest of its oversized headers) would get a reset on closing, and lose the answer
  // with it; Go's server lingers the same way (closeWriteAndWait) before it closes.
  let lingered = 0;
  socket.on('data', (chunk: Buffer) => {
    lingered += chunk.length;
    if (lingered > LINGER_BYTES) socket.destroy();
  });
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.resume();
  socket.end(
    `HTTP/1.1 ${status.code} ${REASON_PHRASES[status.code] ?? 'Error'}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
