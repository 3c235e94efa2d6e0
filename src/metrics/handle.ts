/** MetricsHandle is what collectMetrics and collectOtelMetrics return. */
export interface MetricsHandle {
  /**
   * stop unsubscribes from every leash channel, stops the event-loop sampler and removes the
   * metrics from the registry (prom-client) or detaches their callback (OpenTelemetry): nothing is
   * left running or registered. Idempotent.
   */
  stop(): void;
}
