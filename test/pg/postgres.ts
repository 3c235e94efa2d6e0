// Test support: is PostgreSQL there? The runner says so through LEASH_TEST_POSTGRES; a file run on its
// own probes the port itself.
import net from 'node:net';

export const pgConfig = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };
export const skipReason = 'PostgreSQL not running on 127.0.0.1:5432';

export async function postgresUp(): Promise<boolean> {
  const flag = process.env.LEASH_TEST_POSTGRES;
  if (flag === '1') return true;
  if (flag === '0') return false;
  return new Promise((resolve) => {
    const socket = net.connect({ host: pgConfig.host, port: pgConfig.port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
