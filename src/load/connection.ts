// One keep-alive HTTP/1.1 connection of the load generator, on a raw socket: the request is a
// prebuilt buffer and the response parser reads only what it must (status, Content-Length or
// chunked framing, Connection: close), which is what lets one Node process out-send the target.
import net from 'node:net';
import tls from 'node:tls';

/** Why a request failed without a status. */
export type FailureKind = 'connect' | 'reset' | 'timeout' | 'protocol';

/** Endpoint says where connections go. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
}

const HEAD = 0;
const BODY_LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const TRAILER = 4;
const UNTIL_CLOSE = 5;
const MAX_HEAD = 64 * 1024;

/**
 * Connection sends one request at a time on one socket and calls `onResponse` or `onFailure` (with
 * the request's intended time) exactly once per request. After a failure or a `Connection: close` answer it is
 * `dead` and its socket destroyed; the pool replaces it.
 */
export class Connection {
  /** The intended send time (performance.now() ms) of the request in flight, or -1 when idle. */
  intended = -1;
  dead = false;
  /** Whether the socket ever connected (a refusal before that is a connect failure). */
  #connected = false;
  readonly #socket: net.Socket;
  readonly #onResponse: (c: Connection, status: number, intended: number) => void;
  readonly #onFailure: (c: Connection, kind: FailureKind, intended: number) => void;
  #state = HEAD;
  #pending: Buffer | undefined;
  #remaining = 0;
  #status = 0;
  #close = false;
  #headOnly: boolean;

  constructor(
    endpoint: Endpoint,
    headOnly: boolean,
    onResponse: (c: Connection, status: number, intended: number) => void,
    onFailure: (c: Connection, kind: FailureKind, intended: number) => void,
  ) {
    this.#onResponse = onResponse;
    this.#onFailure = onFailure;
    this.#headOnly = headOnly;
    const socket = endpoint.tls
      ? tls.connect({
          host: endpoint.host,
          port: endpoint.port,
          servername: net.isIP(endpoint.host) ? undefined : endpoint.host,
        })
      : net.connect({ host: endpoint.host, port: endpoint.port });
    socket.setNoDelay(true);
    socket.once(endpoint.tls ? 'secureConnect' : 'connect', () => {
      this.#connected = true;
    });
    socket.on('data', (chunk: Buffer) => this.#data(chunk));
    socket.on('error', () => this.#fail(this.#connected ? 'reset' : 'connect'));
    socket.on('close', () => {
      if (this.#state === UNTIL_CLOSE && this.intended >= 0) this.#complete();
      this.#fail(this.#connected ? 'reset' : 'connect');
    });
    this.#socket = socket;
  }

  /** send writes a prebuilt request for the request intended at `intended` (ms). */
  send(request: Buffer, intended: number): void {
    this.intended = intended;
    this.#state = HEAD;
    this.#socket.write(request);
  }

  /** fail ends the request in flight with `kind` and closes the connection. */
  fail(kind: FailureKind): void {
    this.#fail(kind);
  }

  /** destroy closes the connection; a request in flight is not reported. */
  destroy(): void {
    this.dead = true;
    this.intended = -1;
    this.#socket.destroy();
  }

  #fail(kind: FailureKind): void {
    if (this.dead) return;
    this.dead = true;
    this.#socket.destroy();
    const intended = this.intended;
    if (intended >= 0) {
      this.intended = -1;
      this.#onFailure(this, kind, intended);
    }
  }

  #complete(): void {
    const status = this.#status;
    const intended = this.intended;
    this.#state = HEAD;
    this.intended = -1;
    if (this.#close) {
      this.dead = true;
      this.#socket.destroy();
    }
    this.#onResponse(this, status, intended);
  }

  #data(chunk: Buffer): void {
    if (this.intended < 0) {
      // Bytes nobody asked for: the framing is lost.
      this.#fail('protocol');
      return;
    }
    let buf = chunk;
    if (this.#pending !== undefined) {
      buf = Buffer.concat([this.#pending, chunk]);
      this.#pending = undefined;
    }
    let off = 0;
    const len = buf.length;
    while (off < len && this.intended >= 0) {
      switch (this.#state) {
        case HEAD: {
          const end = buf.indexOf('\r\n\r\n', off, 'latin1');
          if (end < 0) {
            if (len - off > MAX_HEAD) {
              this.#fail('protocol');
              return;
            }
            this.#pending = buf.subarray(off);
            return;
          }
          this.#head(buf.toString('latin1', off, end));
          off = end + 4;
          if (this.#state === HEAD) {
            // No body, or a 1xx interim answer (skipped).
            if (this.#status >= 200) this.#complete();
          }
          if (this.dead) return;
          break;
        }
        case BODY_LENGTH: {
          const take = Math.min(this.#remaining, len - off);
          off += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#complete();
          break;
        }
        case CHUNK_SIZE: {
          const end = buf.indexOf('\r\n', off, 'latin1');
          if (end < 0) {
            this.#pending = buf.subarray(off);
            return;
          }
          const size = Number.parseInt(buf.toString('latin1', off, end), 16);
          if (Number.isNaN(size)) {
            this.#fail('protocol');
            return;
          }
          off = end + 2;
          if (size === 0) this.#state = TRAILER;
          else {
            this.#state = CHUNK_DATA;
            this.#remaining = size + 2;
          }
          break;
        }
        case CHUNK_DATA: {
          const take = Math.min(this.#remaining, len - off);
          off += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = CHUNK_SIZE;
          break;
        }
        case TRAILER: {
          const end = buf.indexOf('\r\n', off, 'latin1');
          if (end < 0) {
            this.#pending = buf.subarray(off);
            return;
          }
          const empty = end === off;
          off = end + 2;
          if (empty) this.#complete();
          break;
        }
        default:
          // UNTIL_CLOSE: the body runs to the end of the connection.
          off = len;
      }
    }
    if (off < len && !this.dead) this.#fail('protocol');
  }

  #head(head: string): void {
    // "HTTP/1.1 200 OK"
    const status = Number(head.slice(9, 12));
    if (!head.startsWith('HTTP/1.') || !(status >= 100)) {
      this.#fail('protocol');
      return;
    }
    this.#status = status;
    if (status < 200) return; // interim: the real head follows
    const lower = head.toLowerCase();
    this.#close = /\r\nconnection:[ \t]*close/.test(lower) || head.startsWith('HTTP/1.0');
    if (this.#headOnly || status === 204 || status === 304) {
      this.#state = HEAD;
      return;
    }
    if (/\r\ntransfer-encoding:[^\r]*chunked/.test(lower)) {
      this.#state = CHUNK_SIZE;
      return;
    }
    const cl = /\r\ncontent-length:[ \t]*(\d+)/.exec(lower);
    if (cl) {
      this.#remaining = Number(cl[1]);
      this.#state = this.#remaining === 0 ? HEAD : BODY_LENGTH;
      return;
    }
    this.#state = UNTIL_CLOSE;
    this.#close = true;
  }
}
