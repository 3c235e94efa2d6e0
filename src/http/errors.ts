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

/** invalidArg builds the TypeError (code LEASH_ERR_INVALID_ARG) that leashjs/http throws on bad input. */
export function invalidArg(message: string): TypeError {
  const err = new TypeError(message) as TypeError & { code: string };
  err.code = 'LEASH_ERR_INVALID_ARG';
  return err;
}
