// A small Chrome trace-event recorder for the demo's request spans (Perfetto and chrome://tracing
// open the file). leashjs/leak has a general recorder; the demo keeps its own so that it shows request
// spans of both services side by side and runs whatever else has landed.
import { writeFileSync } from 'node:fs';

interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  args?: Record<string, unknown>;
}

export class TraceEvents {
  readonly #events: object[] = [];

  /** process names a trace row group (one per handler style). */
  process(pid: number, name: string): void {
    const event: TraceEvent = { name: 'process_name', ph: 'M', ts: 0, pid, tid: 0, args: { name } };
    this.#events.push(event);
  }

  /** thread names a row inside a group (orders, inventory). */
  thread(pid: number, tid: number, name: string): void {
    const event: TraceEvent = { name: 'thread_name', ph: 'M', ts: 0, pid, tid, args: { name } };
    this.#events.push(event);
  }

  /** span records a complete span; start and end are performance.now() values. */
  span(
    pid: number,
    tid: number,
    name: string,
    start: number,
    end: number,
    args?: Record<string, unknown>,
  ): void {
    const event: TraceEvent = {
      name,
      ph: 'X',
      // Absolute microseconds, the time base leashjs/leak's recorder uses, so both merge into one file.
      ts: Math.round((performance.timeOrigin + start) * 1000),
      dur: Math.max(1, Math.round((end - start) * 1000)),
      pid,
      tid,
      ...(args ? { args } : {}),
    };
    this.#events.push(event);
  }

  /** merge adds events recorded elsewhere (leashjs/leak's startTrace) to the file. */
  merge(events: readonly object[]): void {
    for (const e of events) this.#events.push(e);
  }

  get length(): number {
    return this.#events.length;
  }

  write(path: string): void {
    writeFileSync(path, JSON.stringify({ traceEvents: this.#events, displayTimeUnit: 'ms' }));
  }
}
