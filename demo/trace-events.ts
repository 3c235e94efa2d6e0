// A small Chrome trace-event recorder for the demo's request spans (Perfetto and chrome://tracing
// open the file). leash/leak has a general recorder; the demo keeps its own so that it shows request
// spans of both services side by side and runs whatever else has landed.
import { writeFileSync } from 'node:fs';

interface TraceEvent {
  name: string;
  ph: 'X' | 'M';
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  args?: Record<string, unknown>;
}

export class TraceEvents {
  readonly #events: TraceEvent[] = [];
  readonly #origin = performance.now();

  /** process names a trace row group (one per handler style). */
  process(pid: number, name: string): void {
    this.#events.push({ name: 'process_name', ph: 'M', ts: 0, pid, tid: 0, args: { name } });
  }

  /** thread names a row inside a group (orders, inventory). */
  thread(pid: number, tid: number, name: string): void {
    this.#events.push({ name: 'thread_name', ph: 'M', ts: 0, pid, tid, args: { name } });
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
    this.#events.push({
      name,
      ph: 'X',
      ts: Math.round((start - this.#origin) * 1000),
      dur: Math.max(1, Math.round((end - start) * 1000)),
      pid,
      tid,
      ...(args ? { args } : {}),
    });
  }

  get length(): number {
    return this.#events.length;
  }

  write(path: string): void {
    writeFileSync(path, JSON.stringify({ traceEvents: this.#events, displayTimeUnit: 'ms' }));
  }
}
