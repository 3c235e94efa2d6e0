// "Nothing leaked afterwards": the target's own count of live leash tasks and active handles, read
// from leashjs/leak's debugHandler (`<prefix>/tasks?debug=1&format=json`) before and after a run.
import http from 'node:http';
import https from 'node:https';

/** TargetCounts is what a target's debug endpoint reports as alive. */
export interface TargetCounts {
  /** Live leash tasks. */
  readonly tasks: number;
  /** Active handles and requests (process.getActiveResourcesInfo()), this probe's own socket included. */
  readonly handles: number;
  /** Active handles by type. */
  readonly handlesByType: Readonly<Record<string, number>>;
  /** Live tasks by "name at creation site" (the site is `<no stack>` unless the target records task stacks). */
  readonly tasksBySite: Readonly<Record<string, number>>;
}

/** tasksUrl turns a debug URL (the handler's prefix, or its /tasks path) into the JSON profile URL. */
function tasksUrl(debugUrl: string): URL {
  const u = new URL(debugUrl);
  if (!u.pathname.endsWith('/tasks')) u.pathname = `${u.pathname.replace(/\/+$/, '')}/tasks`;
  u.searchParams.set('debug', '1');
  u.searchParams.set('format', 'json');
  return u;
}

interface ProfileJson {
  counts?: { resources?: Record<string, number> };
  groups?: Array<{ kind?: string; count?: number; type?: string; site?: string }>;
}

/**
 * readCounts asks the debug endpoint at `debugUrl` for its profile, on a connection of its own
 * (closed after the answer, so every reading counts one probe socket), and rejects when the
 * endpoint cannot be reached, answers other than 200, or does not send a leash profile.
 */
export function readCounts(debugUrl: string, timeoutMs = 5000): Promise<TargetCounts> {
  const u = tasksUrl(debugUrl);
  const get = u.protocol === 'https:' ? https.get : http.get;
  return new Promise((resolve, reject) => {
    const req = get(u, { agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          reject(new Error(`${u.href} answered ${res.statusCode}: ${text.slice(0, 200)}`));
          return;
        }
        let json: ProfileJson;
        try {
          json = JSON.parse(text) as ProfileJson;
        } catch {
          reject(new Error(`${u.href} did not answer with a leash profile (JSON expected)`));
          return;
        }
        if (!Array.isArray(json.groups) || typeof json.counts?.resources !== 'object') {
          reject(new Error(`${u.href} did not answer with a leash profile (no groups or counts)`));
          return;
        }
        let tasks = 0;
        const tasksBySite: Record<string, number> = {};
        for (const g of json.groups) {
          if (g.kind !== 'task') continue;
          tasks += g.count ?? 0;
          const key = `${g.type ?? 'task'} at ${g.site ?? '<no stack>'}`;
          tasksBySite[key] = (tasksBySite[key] ?? 0) + (g.count ?? 0);
        }
        const byType = json.counts.resources;
        const handles = Object.values(byType).reduce((n, c) => n + c, 0);
        resolve({ tasks, handles, handlesByType: byType, tasksBySite });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${u.href} did not answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
