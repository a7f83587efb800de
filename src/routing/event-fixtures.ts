import { createRequire } from 'node:module';

/**
 * Real event payloads from `@octokit/webhooks-examples` (the payloads GitHub documents), and
 * variants derived from them by changing only the fields the policy reads. Test helper: not part
 * of the routing surface.
 */

type Json = Record<string, unknown>;
const require = createRequire(import.meta.url);
const examples = require('@octokit/webhooks-examples/api.github.com/index.json') as Array<{ name: string; examples: Json[] }>;

/** A deep copy of the first example of `event` whose `action` matches (any action when omitted). */
export function example(event: string, action?: string): Json {
  const found = examples.find((e) => e.name === event)?.examples.find((x) => action === undefined || x.action === action);
  if (!found) throw new Error(`no ${event}${action ? `.${action}` : ''} example in @octokit/webhooks-examples`);
  return structuredClone(found);
}

/** Every example of `event`. */
export function allExamples(event: string): Json[] {
  return structuredClone(examples.find((e) => e.name === event)?.examples ?? []);
}

const pr = (payload: Json): Json => payload.pull_request as Json;

/** The `pull_request.opened` example with `author_association` set. */
export function pullRequestBy(association: string): Json {
  const payload = example('pull_request', 'opened');
  pr(payload).author_association = association;
  return payload;
}

/** A pull request whose head is in a fork (another repository, another owner). */
export function forkPullRequest(): Json {
  const payload = example('pull_request', 'opened');
  const head = pr(payload).head as Json;
  const repo = head.repo as Json;
  head.repo = { ...repo, id: 99_000_001, full_name: 'outsider/Hello-World', name: 'Hello-World', fork: true, owner: { ...(repo.owner as Json), login: 'outsider', id: 99_000_002 } };
  head.label = 'outsider:feature';
  return payload;
}

/** A pull request from a fork that was deleted (GitHub then sends `head.repo: null`). */
export function deletedForkPullRequest(): Json {
  const payload = example('pull_request', 'opened');
  (pr(payload).head as Json).repo = null;
  return payload;
}

/** A same-repository pull request in a repository that is itself a fork (`head.repo.fork` is true, yet it is not a fork PR). */
export function pullRequestInForkedRepository(): Json {
  const payload = example('pull_request', 'opened');
  ((pr(payload).head as Json).repo as Json).fork = true;
  ((pr(payload).base as Json).repo as Json).fork = true;
  return payload;
}

/** A Dependabot pull request: author and sender `dependabot[bot]` (type Bot), association NONE as GitHub reports it. */
export function dependabotPullRequest(): Json {
  const payload = example('pull_request', 'opened');
  const bot = { login: 'dependabot[bot]', id: 49_699_333, type: 'Bot' };
  pr(payload).user = { ...(pr(payload).user as Json), ...bot };
  pr(payload).author_association = 'NONE';
  payload.sender = { ...(payload.sender as Json), ...bot };
  return payload;
}

/** A pull request by a maintainer, synchronised by a bot (e.g. a formatter app pushing to the branch). */
export function botSenderPullRequest(login = 'pre-commit-ci[bot]'): Json {
  const payload = example('pull_request', 'synchronize');
  payload.sender = { ...(payload.sender as Json), login, type: 'Bot' };
  return payload;
}

/** A `schedule` payload as Actions writes it (no webhook example exists): the cron, the repository, the workflow. */
export function schedulePayload(): Json {
  const push = example('push');
  return { schedule: '17 3 * * *', repository: push.repository, workflow: '.github/workflows/ci.yml' };
}
