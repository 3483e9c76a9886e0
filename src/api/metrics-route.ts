import type { FastifyInstance } from 'fastify';
import { PROMETHEUS_CONTENT_TYPE } from '../core/prometheus-text.ts';

/** What GET /metrics serves: the runtime's registry, rendered on each scrape. */
export interface MetricsEndpoint {
  render(): string;
}

/**
 * GET /metrics (and HEAD) in the Prometheus text format. No token: like any scrape target it is
 * read by a collector, and it carries no principal data — every label value is bounded to names
 * from config and the tool registry (runner/cordon-metrics.ts). `metrics.enabled: false` leaves
 * the route out (404). A query string is ignored: the answer never depends on, or echoes, it.
 */
export function registerMetricsRoute(app: FastifyInstance, metrics: MetricsEndpoint): void {
  // Not JSON: outside the OpenAPI document of the runner API (docs/metrics.md describes it).
  app.get('/metrics', { config: { openapi: { exclude: 'Prometheus text exposition format, not JSON; see docs/metrics.md' } } }, async (_request, reply) => {
    void reply.header('content-type', PROMETHEUS_CONTENT_TYPE);
    return metrics.render();
  });
}
