// A TCP proxy that a test controls, for fault injection against real servers (PostgreSQL, HTTP
// upstreams): it forwards every connection to target, and the test can cut the live connections
// (both sockets destroyed, as a dropped network or a restarted middlebox does), refuse new ones for
// a while ("the network is down"), lose the replies of commands the server ran or the commands
// themselves, and look at or swallow each connection's first bytes.
import net from 'node:net';

export interface TcpProxyOptions {
  /** Where to forward to. */
  readonly host: string;
  readonly port: number;
  /**
   * Called with each connection's first chunk; return false to swallow the connection (it is kept
   * open and never forwarded, like a server that does not answer). Default: forward everything.
   */
  readonly onFirstData?: (first: Buffer) => boolean;
}

export interface TcpProxy {
  /** The port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /** Connections forwarded so far. */
  readonly accepted: number;
  /** Sockets currently open (both sides of forwarded connections, and swallowed ones). */
  readonly open: number;
  /** cut destroys every open connection, both sides; new connections are still accepted. */
  cut(): void;
  /**
   * holdReplies(true) keeps forwarding what clients send but throws away what the server sends
   * back, until holdReplies(false): commands run on the server and their replies are lost, as when
   * a network fails between a request and its reply. Then cut() ends those connections.
   */
  holdReplies(on: boolean): void;
  /** holdRequests(true) throws away what clients send, until holdRequests(false): commands never reach the server. */
  holdRequests(on: boolean): void;
  /** down makes new connections fail at once (accepted, then destroyed) until up(); it does not cut open ones. */
  down(): void;
  up(): void;
  /** close cuts everything and stops listening. */
  close(): Promise<void>;
}

export async function startTcpProxy(opts: TcpProxyOptions): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let isDown = false;
  let dropReplies = false;
  let dropRequests = false;
  let accepted = 0;
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const server = net.createServer((client) => {
    track(client);
    if (isDown) {
      client.destroy();
      return;
    }
    client.once('data', (first: Buffer) => {
      if (opts.onFirstData !== undefined && !opts.onFirstData(first)) return;
      accepted++;
      const upstream = net.connect({ host: opts.host, port: opts.port });
      track(upstream);
      upstream.write(first);
      client.on('data', (chunk: Buffer) => {
        if (!dropRequests && !upstream.write(chunk)) client.pause();
      });
      upstream.on('drain', () => client.resume());
      upstream.on('data', (chunk: Buffer) => {
        if (!dropReplies && !client.write(chunk)) upstream.pause();
      });
      client.on('drain', () => upstream.resume());
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', close);
      upstream.on('close', close);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const cut = () => {
    for (const s of sockets) s.destroy();
  };
  return {
    port,
    get accepted() {
      return accepted;
    },
    get open() {
      return sockets.size;
    },
    cut,
    holdReplies(on) {
      dropReplies = on;
    },
    holdRequests(on) {
      dropRequests = on;
    },
    down() {
      isDown = true;
    },
    up() {
      isDown = false;
    },
    close() {
      cut();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
