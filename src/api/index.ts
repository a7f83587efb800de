export { createApiServer, type ApiServerOptions, type ApiSurface } from './server.ts';
export { ApiMetrics, type ApiMetricsOptions } from './metrics.ts';
export { MIN_TOKEN_LENGTH, tokensEqual, type ApiAuth } from './auth.ts';
export { HTTP_STATUS_BY_CODE, httpStatusOf, toErrorResponse, type ErrorBody } from './http-errors.ts';
export { bootToOnline, poolViews } from './pool-routes.ts';
export { formatTransitionEvent } from './event-routes.ts';
export type { ApiContext } from './context.ts';
export type { WebhookRouteOptions } from './webhook-routes.ts';
export { Readiness, type ReadinessOptions, type ReadinessReport } from './readiness.ts';
