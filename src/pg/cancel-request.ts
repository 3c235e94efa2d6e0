import diagnostics_channel from 'node:diagnostics_channel';
import net from 'node:net';
import { assertNumber, describe, invalidArg } from '../context/internal.js';

/** CancelTarget is what a PostgreSQL cancel request needs from a connected pg Client. */
export interface CancelTarget {
  readonly host: string;
  readonly port: number;
  readonly processID: number | null;
  readonly secretKey: number | null;
}

/** PgCancelMessage is the payload published on `leash:pg:cancel` (frozen). */
export interface PgCancelMessage {
  readonly host: string;
  readonly port: number;
  readonly processID: number;
}

// Protocol constants: a CancelRequest is 16 bytes, length 16 then the code 80877102 (1234 << 16 | 5678).
export const cancelRequestCode = 80877102;

// Observers (metrics, leashjs/leak) learn of each cancel request here.
const cancelChannel = diagnostics_channel.channel('leash:pg:cancel');

/**
 * cancelRequestPacket builds the 16-byte CancelRequest message: int32 length (16), int32 code
 * 80877102, int32 backend process id, int32 secret key, all big-endian. Both keys are what the
 * server sent in BackendKeyData (signed 32-bit integers).
 */
export function cancelRequestPacket(processID: number, secretKey: number): Buffer {
  const msg = Buffer.alloc(16);
  msg.writeInt32BE(16, 0);
  msg.writeInt32BE(cancelRequestCode, 4);
  msg.writeInt32BE(processID, 8);
  msg.writeInt32BE(secretKey, 12);
  return msg;
}

const where = 'sendCancelRequest(target, timeoutMs)';
const int32 = { min: -2_147_483_648, max: 2_147_483_647, integer: true } as const;

function assertTarget(target: unknown): asserts target is CancelTarget {
  if (typeof target !== 'object' || target === null) {
    throw invalidArg(
      `${where}: target must be { host, port, processID, secretKey } (a connected pg Client has them), got ${describe(target)}`,
    );
  }
  const t = target as Record<string, unknown>;
  if (typeof t.host !== 'string')
    throw invalidArg(`${where}: target.host must be a string, got ${describe(t.host)}`);
  assertNumber(t.port, where, 'target.port', { min: 1, max: 65535, integer: true });
  if (t.processID !== null) assertNumber(t.processID, where, 'target.processID', int32);
  if (t.secretKey !== null) assertNumber(t.secretKey, where, 'target.secretKey', int32);
}

/**
 * sendCancelRequest asks the server to cancel whatever the backend of target is running, with the
 * protocol's CancelRequest message on a fresh connection (what psql does on Ctrl-C). It needs no
 * authentication and no free connection slot, which is why leash uses it instead of
 * `SELECT pg_cancel_backend(pid)` on a second session. Like every PostgreSQL cancel it is
 * best-effort and asynchronous (published on the diagnostics channel `leash:pg:cancel`): it resolves
 * once the server closed the cancel connection, not when the statement stopped. It never rejects; it
 * gives up after timeoutMs. Bad input throws TypeError (LEASH_ERR_INVALID_ARG).
 */
export function sendCancelRequest(target: CancelTarget, timeoutMs = 5_000): Promise<void> {
  assertTarget(target);
  assertNumber(timeoutMs, where, 'timeoutMs', { min: 1, max: 2_147_483_647, unit: 'milliseconds' });
  const { processID, secretKey } = target;
  if (processID === null || secretKey === null) return Promise.resolve();
  if (cancelChannel.hasSubscribers) {
    const msg: PgCancelMessage = Object.freeze({ host: target.host, port: target.port, processID });
    cancelChannel.publish(msg);
  }
  return new Promise((resolve) => {
    const host = target.host || 'localhost';
    const socket = host.startsWith('/')
      ? net.connect({ path: `${host}/.s.PGSQL.${target.port}` })
      : net.connect({ host, port: target.port });
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.once('connect', () => socket.end(cancelRequestPacket(processID, secretKey)));
    socket.on('error', () => socket.destroy());
    socket.once('close', () => resolve());
  });
}
