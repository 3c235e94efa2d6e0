// Running a Lua script on Redis the way every Redis-backed layer does (the rate limiter, the
// cache's Redis tier, the queue's streams): by its SHA-1, sending the source only when the server
// does not have it yet. Structural, so no layer needs ioredis to compile or load.
import { createHash } from 'node:crypto';

/** ScriptClient is the part of an ioredis client or cluster that runs Lua scripts. */
export interface ScriptClient {
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/** LuaScript is a Lua source and its SHA-1, made once per script by luaScript(). */
export interface LuaScript {
  readonly src: string;
  readonly sha: string;
}

/** luaScript pairs `src` with its SHA-1, for evalScript. Make it once, at module load. */
export function luaScript(src: string): LuaScript {
  return Object.freeze({ src, sha: createHash('sha1').update(src).digest('hex') });
}

/**
 * evalScript runs `script` with EVALSHA, and with EVAL when Redis answers NOSCRIPT (a new or
 * restarted server, a failover, SCRIPT FLUSH); any other error rejects as is.
 */
export function evalScript(
  client: ScriptClient,
  script: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  return client.evalsha(script.sha, keys.length, ...keys, ...args).catch((e: unknown) => {
    if (!String((e as Error | null)?.message).includes('NOSCRIPT')) throw e;
    return client.eval(script.src, keys.length, ...keys, ...args);
  });
}
