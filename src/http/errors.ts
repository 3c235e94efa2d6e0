import { CanceledError, DeadlineExceededError, isCanceled, isDeadlineExceeded } from '../context/index.js';

// Causes that leashjs/http gives a request context when it ends for a reason other than its deadline.
// They are causes (read them with cause(ctx)); ctx.err stays the core CanceledError, as in Go.

/**
 * ClientGoneError is the cause of a request context whose client closed the connection before the
 * response was complete. Work done for that request after this point is wasted: stop it and return.
 * Code: LEASH_ERR_CLIENT_GONE.
 */
export class ClientGoneError extends Error {
  readonly code = 'LEASH_ERR_CLIENT_GONE';
  constructor() {
    super(
      'the client closed the connection before the response was complete; stop the work for this request, nobody is waiting for it',
    );
    this.name = 'ClientGoneError';
  }
}

/**
 * ResponseFinishedError is the cause of a request context that ended because its response was sent.
 * Work still running under it after the response is background work the handler forgot to await; if
 * it must outlive the request, derive it from withoutCancel(ctx) on purpose.
 * Code: LEASH_ERR_RESPONSE_FINISHED. One shared instance (responseFinished) is used for every request,
 * so its stack says nothing; it exists to be compared, like Go's sentinels.
 */
export class ResponseFinishedError extends Error {
  readonly code = 'LEASH_ERR_RESPONSE_FINISHED';
  constructor() {
    super(
      'the response was sent, so the request context ended; work that must outlive the request needs its own context (withoutCancel)',
    );
    this.name = 'ResponseFinishedError';
  }
}

/** responseFinished is the shared cause of every request context that ended because its response was sent. */
export const responseFinished: ResponseFinishedError = new ResponseFinishedError();

/**
 * ServerShutdownError is the cause of a request context cancelled by serve() because the server's
 * drain deadline passed while the request was still running. Code: LEASH_ERR_SERVER_SHUTDOWN.
 */
export class ServerShutdownError extends Error {
  readonly code = 'LEASH_ERR_SERVER_SHUTDOWN';
  constructor(drainMs: number) {
    super(
      `the server is shutting down and this request did not finish within the ${drainMs} ms drain period; return now`,
    );
    this.name = 'ServerShutdownError';
  }
}

/**
 * statusFor is the status a request whose handler failed with `err` should answer: timeoutStatus
 * (504) when the deadline passed, 503 when the request was cancelled (root cancelled, server
 * shutting down, client gone), 500 otherwise. Both follow the `.cause` chain.
 */
export function statusFor(err: unknown, timeoutStatus: number): number {
  if (isDeadlineExceeded(err)) return timeoutStatus;
  if (isCanceled(err) || err instanceof ClientGoneError || err instanceof ServerShutdownError) return 503;
  return 500;
}

/**
 * RequestEndedError is what an adapter hands its framework in place of a leash error (ctx.err, a
 * cause): a fresh object carrying the HTTP status (`status`, `statusCode`), with the original as
 * `cause`, so isCanceled()/isDeadlineExceeded() still recognise it. Frameworks decorate the errors
 * they catch (Koa writes `status`, `expose`, `headerSent`); leash's errors may be shared across
 * requests, so no framework ever gets to write on them.
 */
class RequestEndedError extends Error {
  readonly status: number;
  readonly statusCode: number;
  /** expose: the message ("context canceled", "context deadline exceeded") is safe to show. */
  readonly expose = true;
  readonly code: string | undefined;
  constructor(original: Error, status: number) {
    super(original.message, { cause: original });
    this.name = original.name;
    this.status = status;
    this.statusCode = status;
    const code = (original as { code?: unknown }).code;
    this.code = typeof code === 'string' ? code : undefined;
  }
}

const leashErrors = [
  ClientGoneError,
  ResponseFinishedError,
  ServerShutdownError,
  CanceledError,
  DeadlineExceededError,
];

/**
 * forFramework returns what to hand a framework's error path in place of `err`: for a leash error
 * (or an error whose cause chain holds a cancellation or deadline and that carries no status of its
 * own) a fresh RequestEndedError with the right status; anything else unchanged.
 */
export function forFramework(err: unknown, timeoutStatus: number): unknown {
  if (typeof err !== 'object' || err === null) return err;
  const own = leashErrors.some((cls) => err instanceof cls);
  const ended = own || isCanceled(err) || isDeadlineExceeded(err);
  if (!ended) return err;
  if (!own) {
    const e = err as { status?: unknown; statusCode?: unknown };
    if (typeof e.status === 'number' || typeof e.statusCode === 'number') return err;
  }
  return new RequestEndedError(err as Error, statusFor(err, timeoutStatus));
}
