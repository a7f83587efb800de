import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchJob, runnerGroupServes, type PoolAccessSpec, type RunnerGroupAccess, type RepositoryVisibility } from './runner-group-access.ts';
import { selectPool } from './match.ts';

const DEFAULT: RunnerGroupAccess = { id: 1, name: 'Default', visibility: 'all', allowsPublicRepositories: false, selectedRepositories: null };
const OPEN: RunnerGroupAccess = { ...DEFAULT, id: 2, name: 'open', allowsPublicRepositories: true };
const SELECTED: RunnerGroupAccess = { id: 3, name: 'deploy', visibility: 'selected', allowsPublicRepositories: true, selectedRepositories: ['acme/App'] };
const SELECTED_UNKNOWN: RunnerGroupAccess = { ...SELECTED, selectedRepositories: null };
const PRIVATE_ONLY: RunnerGroupAccess = { id: 4, name: 'private', visibility: 'private', allowsPublicRepositories: true, selectedRepositories: null };

describe('runnerGroupServes: GitHub runner-group access', () => {
  const cases: Array<[string, RunnerGroupAccess | null, RepositoryVisibility | null, string, boolean]> = [
    ['unknown group: allowed', null, 'public', 'app', true],
    ['default group, private repo', DEFAULT, 'private', 'app', true],
    ['default group, internal repo', DEFAULT, 'internal', 'app', true],
    ['default group, public repo: refused (GitHub default)', DEFAULT, 'public', 'app', false],
    ['default group, visibility unknown: allowed', DEFAULT, null, 'app', true],
    ['group allowing public repos, public repo', OPEN, 'public', 'app', true],
    ['selected group, listed (case-insensitive)', SELECTED, 'private', 'APP', true],
    ['selected group, not listed', SELECTED, 'private', 'site', false],
    ['selected group, selection unknown', SELECTED_UNKNOWN, 'private', 'site', true],
    ['private-only group, public repo', PRIVATE_ONLY, 'public', 'app', false],
    ['private-only group, private repo', PRIVATE_ONLY, 'private', 'app', true],
  ];
  for (const [name, group, visibility, repo, expected] of cases) {
    it(name, () => {
      const verdict = runnerGroupServes(group, { owner: 'acme', repo, visibility });
      assert.equal(verdict.isAllowed, expected);
      if (!verdict.isAllowed) assert.match(verdict.reason, new RegExp(`${group!.name}`));
    });
  }
});

describe('matchJob: pool, unservable with a reason, or not ours', () => {
  const org = (name: string, labels: string[], runnerGroupId: number): PoolAccessSpec => ({ name, labels, scope: { kind: 'org', org: 'acme' }, runnerGroupId });
  const groups = new Map([[1, DEFAULT], [2, OPEN], [3, SELECTED]]);
  const groupOf = (pool: PoolAccessSpec) => groups.get(pool.runnerGroupId ?? 1) ?? null;
  const linux = org('linux', ['self-hosted', 'linux'], 1);
  const linuxPublic = org('linux-public', ['self-hosted', 'linux'], 2);
  const deploy = org('deploy', ['self-hosted', 'deploy'], 3);
  const repoPool: PoolAccessSpec = { name: 'solo', labels: ['self-hosted', 'solo'], scope: { kind: 'repo', owner: 'acme', repo: 'site' } };
  const job = (repo: string, labels: string[], visibility: RepositoryVisibility | null = 'private') => ({ owner: 'acme', repo, labels, visibility });

  const cases: Array<[string, PoolAccessSpec[], ReturnType<typeof job>, string, string | null]> = [
    ['private repo: the first fitting pool', [linux, linuxPublic], job('app', ['self-hosted', 'Linux']), 'served', 'linux'],
    ['public repo: skips the pool whose group refuses', [linux, linuxPublic], job('site', ['linux'], 'public'), 'served', 'linux-public'],
    ['public repo, no group allows: unservable, attributed to the first fitting pool', [linux], job('site', ['linux'], 'public'), 'unservable', 'linux'],
    ['selected group, repo not listed', [deploy], job('site', ['deploy']), 'unservable', 'deploy'],
    ['selected group, repo listed', [deploy], job('app', ['deploy']), 'served', 'deploy'],
    ['repository pool ignores groups', [repoPool], job('site', ['solo'], 'public'), 'served', 'solo'],
    ['labels no pool carries, meant for self-hosted', [linux], job('app', ['self-hosted', 'gpu']), 'unservable', null],
    ['a pool label but not all of them', [linux], job('app', ['linux', 'arm64']), 'unservable', null],
    ['GitHub-hosted labels: not ours', [linux], job('app', ['ubuntu-latest']), 'ignored', null],
    ['no labels: not ours', [linux], job('app', []), 'ignored', null],
    ['self-hosted job outside every scope', [repoPool], job('other', ['self-hosted']), 'unservable', null],
  ];
  for (const [name, pools, candidate, kind, pool] of cases) {
    it(name, () => {
      const match = matchJob(pools, candidate, groupOf);
      assert.equal(match.kind, kind);
      if (match.kind !== 'ignored') assert.equal(match.pool?.name ?? null, pool);
      if (match.kind === 'unservable') assert.ok(match.reason.length > 10);
    });
  }

  it('says why: the group and the repository, or the missing labels', () => {
    const refused = matchJob([linux], job('site', ['linux'], 'public'), groupOf);
    assert.equal(refused.kind, 'unservable');
    assert.match(refused.kind === 'unservable' ? refused.reason : '', /pool linux: runner group "Default" \(1\) does not allow public repositories, and acme\/site is public/);
    const labels = matchJob([linux], job('app', ['self-hosted', 'gpu']), groupOf);
    assert.match(labels.kind === 'unservable' ? labels.reason : '', /none carries gpu/);
  });
});

describe('matchJob / selectPool: the most specific pool, not the first that fits', () => {
  const pool = (name: string, labels: string[], scope: PoolAccessSpec['scope'] = { kind: 'org', org: 'acme' }): PoolAccessSpec => ({ name, labels, scope });
  // `large` is listed first and its labels include all of `linux`'s: it must not take linux's jobs.
  const large = pool('large', ['self-hosted', 'linux', 'large']);
  const linux = pool('linux', ['self-hosted', 'linux']);
  const linuxForApp = pool('linux-app', ['self-hosted', 'Linux'], { kind: 'repo', owner: 'acme', repo: 'app' });
  const cases: Array<[string, PoolAccessSpec[], string[], string, string]> = [
    ['a smaller label set wins over an earlier superset', [large, linux], ['self-hosted', 'linux'], 'site', 'linux'],
    ['the superset still serves what only it can', [large, linux], ['linux', 'large'], 'site', 'large'],
    ['equal label sets: a repository pool before an organisation pool', [linux, linuxForApp], ['self-hosted', 'linux'], 'app', 'linux-app'],
    ['equal everything: configuration order', [linux, pool('linux-2', ['linux', 'self-hosted'])], ['linux'], 'site', 'linux'],
  ];
  for (const [name, pools, labels, repo, expected] of cases) {
    it(name, () => {
      const match = matchJob(pools, { owner: 'acme', repo, labels }, () => null);
      assert.equal(match.kind === 'served' ? match.pool.name : match.kind, expected);
      assert.equal(selectPool(pools, { owner: 'acme', repo, labels })?.name, expected);
    });
  }
});
