import diagnostics_channel from 'node:diagnostics_channel';
import net from 'node:net';

/** CancelTarget is what a PostgreSQL cancel request needs from a connected pg Client. */
export interface CancelTarget {
  readonly host: string;
  readonly port: number;
  readonly processID: number | null;
  readonly secretKey: number | null;
}

// Protocol constants: a CancelRequest is 16 bytes, length 16 then the code 80877102 (1234 << 16 | 5678).
const cancelRequestCode = 80877102;

// Observers (metrics, leashjs/leak) learn of each cancel request here: { host, port, processID }.
const cancelChannel = diagnostics_channel.channel('leash:pg:cancel');

/**
 * sendCancelRequest asks the server to cancel whatever the backend of target is running, with the
 * protocol's CancelRequest message on a fresh connection (what psql does on Ctrl-C). It needs no
 * authentication and no free connection slot, which is why leash uses it instead of
 * `SELECT pg_cancel_backend(pid)` on a second session. Like every PostgreSQL cancel it is
 * best-effort and asynchronous (published on the diagnostics channel `leash:pg:cancel`): it resolves once the server closed the cancel connection, not when
 * the statement stopped. It never rejects; it gives up after timeoutMs.
 */
export function sendCancelRequest(target: CancelTarget, timeoutMs = 5_000): Promise<void> {
  const { processID, secretKey } = target;
  if (processID === null || secretKey === null) return Promise.resolve();
  if (cancelChannel.hasSubscribers)
    cancelChannel.publish({ host: target.host, port: target.port, processID });
  return new Promise((resolve) => {
    const host = target.host || 'localhost';
    const socket = host.startsWith('/')
      ? net.connect({ path: `${host}/.s.PGSQL.${target.port}` })
      : net.connect({ host, port: target.port });
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.once('connect', () => {
      const msg = Buffer.alloc(16);
      msg.writeInt32BE(16, 0);
      msg.writeInt32BE(cancelRequestCode, 4);
      msg.writeInt32BE(processID, 8);
      msg.writeInt32BE(secretKey, 12);
      socket.end(msg);
    });
    socket.on('error', () => socket.destroy());
    socket.once('close', () => resolve());
  });
}
