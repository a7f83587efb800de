/**
 * The runner scale set client: the Actions-service half of GitHub's autoscaling protocol, as the
 * `actions/scaleset` Go client speaks it (auth through `runner-registration`, scale sets,
 * message sessions, the message queue, acquire, JIT configs through the set, agents).
 */
export { configUrl, createScaleSetClient, type ScaleSetClient, type ScaleSetClientOptions } from './scaleset-client.ts';
export { MessageSession, MAX_CAPACITY_HEADER } from './message-session.ts';
export type * from './types.ts';
export { openSession, type OpenSessionOptions } from './open-session.ts';
