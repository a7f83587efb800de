import type { FastifyInstance } from 'fastify';
import type { TransitionRecord } from '../store/index.ts';
import type { ApiContext } from './context.ts';
import { errorResponses } from './schemas.ts';

/** Heartbeat comment interval, so proxies keep the stream open and dead clients are noticed. */
const HEARTBEAT_MS = 15_000;
/** Transitions replayed to a client that reconnects with `Last-Event-ID`. */
const MAX_REPLAY = 1000;

/** One server-sent event for a transition: `id` is its sequence number, so a client can resume. */
export function formatTransitionEvent(transition: TransitionRecord): string {
  return `id: ${transition.seq}\nevent: transition\ndata: ${JSON.stringify(transition)}\n\n`;
}

/**
 * `GET /events`: server-sent events of every transition the store records, live. A client that
 * reconnects with `Last-Event-ID` (or `?after=SEQ`) first gets what it missed.
 */
export async function eventRoutes(app: FastifyInstance, options: { context: ApiContext }): Promise<void> {
  const { store, logger } = options.context;
  app.get('/events', {
    config: { quiet: true, rateLimit: false },
    schema: {
      summary: 'Server-sent events: one `transition` event per store transition',
      tags: ['events'],
      security: [{ bearerAuth: [] }],
      produces: ['text/event-stream'],
      querystring: { type: 'object', additionalProperties: false, properties: { after: { type: 'integer', minimum: 0, description: 'replay transitions after this sequence number' } } },
      response: { 200: { description: 'an event stream', type: 'string' }, ...errorResponses(401) },
    },
  }, async (request, reply) => {
    const header = request.headers['last-event-id'];
    const lastEventId = Number(Array.isArray(header) ? header[0] : header);
    const after = (request.query as { after?: number }).after ?? (Number.isInteger(lastEventId) && lastEventId >= 0 ? lastEventId : undefined);
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    raw.write(': jitpool events\n\n');
    let lastSent = 0;
    const send = (transition: TransitionRecord) => {
      if (transition.seq <= lastSent) return;
      lastSent = transition.seq;
      raw.write(formatTransitionEvent(transition));
    };
    // Subscribe before replaying, so nothing falls between the two; `send` drops what was already sent.
    const buffered: TransitionRecord[] = [];
    let replaying = after !== undefined;
    const unsubscribe = store.onTransition((transition) => (replaying ? buffered.push(transition) : send(transition)));
    if (after !== undefined) {
      for (const transition of store.listTransitions({ afterSeq: after, limit: MAX_REPLAY })) send(transition);
      for (const transition of buffered.splice(0)) send(transition);
      replaying = false;
    }
    const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    const close = () => {
      clearInterval(heartbeat);
      unsubscribe();
    };
    raw.on('close', close);
    raw.on('error', close);
    logger.debug({ component: 'api', after }, 'event stream opened');
  });
}
