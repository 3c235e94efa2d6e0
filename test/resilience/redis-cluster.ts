// Starts a throwaway Redis Cluster of redis-server processes on free local ports, in a temporary
// directory, for the tests that must run on Redis Cluster. Not a test file.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LocalCluster {
  readonly ports: number[];
  stop(): Promise<void>;
}

function free(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function freePorts(n: number): Promise<number[]> {
  // The cluster bus listens on port + 10000: both must be free.
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 7400 + Math.floor(Math.random() * 500);
    const ports = Array.from({ length: n }, (_, i) => base + i);
    let ok = true;
    for (const p of ports) if (!(await free(p)) || !(await free(p + 10_000))) ok = false;
    if (ok) return ports;
  }
  throw new Error('no free ports for a local Redis Cluster');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cli(...args: string[]): string {
  const r = spawnSync('redis-cli', args, { encoding: 'utf8', timeout: 20_000 });
  return `${r.stdout}${r.stderr}`;
}

/** startCluster starts `n` masters (no replicas), creates the cluster and waits until it is ok. */
export async function startCluster(n = 3): Promise<LocalCluster> {
  const ports = await freePorts(n);
  const dir = mkdtempSync(join(tmpdir(), 'leash-redis-cluster-'));
  const procs: ChildProcess[] = ports.map((port) =>
    spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '2000',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    ),
  );
  const stop = async (): Promise<void> => {
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(
      procs.map((p) =>
        p.exitCode !== null || p.signalCode !== null ? null : new Promise((r) => p.once('exit', r)),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      for (let i = 0; !cli('-p', String(port), 'ping').includes('PONG'); i++) {
        if (i > 100) throw new Error(`redis-server on ${port} did not start`);
        await sleep(50);
      }
    }
    const created = cli(
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    );
    if (!created.includes('[OK] All 16384 slots covered'))
      throw new Error(`redis-cli --cluster create failed:\n${created}`);
    for (const port of ports) {
      for (let i = 0; !cli('-p', String(port), 'cluster', 'info').includes('cluster_state:ok'); i++) {
        if (i > 200) throw new Error(`the cluster on ${port} did not become ok`);
        await sleep(50);
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { ports, stop };
}
