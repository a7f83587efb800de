import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isJitpoolError } from '../core/index.ts';
import { checkConfig, loadConfig, parseConfig, type ConfigProblem } from './index.ts';

const MINIMAL = `pools:
  - name: linux
    scope: { kind: repo, owner: acme, repo: app }
    labels: [self-hosted, linux]
    provider:
      kind: process
      command: [./run.sh]
`;

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): ConfigProblem[] {
  const result = checkConfig(text, '/etc/jitpool/jitpool.yaml', env);
  assert.equal(result.ok, false, 'expected problems');
  return result.ok ? [] : result.problems;
}

function byPath(problems: readonly ConfigProblem[], path: string): ConfigProblem {
  const problem = problems.find((p) => p.path === path);
  assert.ok(problem, `no problem at ${path}; got ${JSON.stringify(problems)}`);
  return problem;
}

test('a minimal config gets every default, absolute paths and is deeply frozen', () => {
  const config = parseConfig(MINIMAL, '/etc/jitpool/jitpool.yaml');
  assert.equal(config.controllerId, 'default');
  assert.equal(config.github.apiUrl, 'https://api.github.com');
  assert.deepEqual(config.github.auth, { kind: 'pat', token: { env: ['JITPOOL_GITHUB_TOKEN', 'GH_PAT', 'GITHUB_TOKEN'] } });
  assert.equal(config.webhook.path, '/webhook');
  assert.deepEqual(config.api, {
    host: '127.0.0.1',
    port: 8080,
    auth: { token: { env: ['JITPOOL_API_TOKEN'] } },
    corsOrigins: [],
    rateLimit: { max: 600, windowSeconds: 60 },
  });
  assert.equal(config.log.level, 'info');
  const pool = config.pools[0];
  assert.ok(pool);
  assert.equal(pool.max, 4);
  assert.equal(pool.minIdle, 0);
  assert.equal(pool.runnerGroupId, 1);
  assert.equal(config.store.stateDir, '/etc/jitpool/.state');
  assert.equal(config.store.sqlitePath, '/etc/jitpool/.state/jitpool.sqlite');
  assert.equal(pool.provider.kind === 'process' && pool.provider.workRoot, '/etc/jitpool/.state/work');
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.pools) && Object.isFrozen(pool.labels) && Object.isFrozen(pool.provider));
  assert.throws(() => {
    (config.api as { port: number }).port = 1;
  }, TypeError);
});

test('relative secret and key files resolve against the config directory; absolute ones stay', () => {
  const text = `${MINIMAL}github:
  auth: { kind: app, appId: 1, installationId: 2, privateKeyFile: keys/app.pem }
webhook:
  secret: { file: /run/secrets/hook }
store: { stateDir: /var/lib/jitpool, sqlitePath: db.sqlite }
`;
  const config = parseConfig(text, '/etc/jitpool/jitpool.yaml');
  assert.equal(config.github.auth.kind === 'app' && config.github.auth.privateKeyFile, '/etc/jitpool/keys/app.pem');
  assert.equal(config.webhook.secret.file, '/run/secrets/hook');
  assert.equal(config.store.sqlitePath, '/etc/jitpool/db.sqlite');
  assert.equal(config.pools[0]?.provider.kind === 'process' && config.pools[0].provider.workRoot, '/var/lib/jitpool/work');
});

test('every problem is reported at once, each with its path, line and column', () => {
  const problems = problemsOf(`controllerId: Bad_Id
pools:
  - name: linux
    scope: { kind: team }
    labels: [self-hosted]
    provider:
      kind: process
    max: 0
api:
  port: 99999
`);
  assert.deepEqual(
    problems.map((p) => [p.path, p.line, p.column]),
    [
      ['controllerId', 1, 15],
      ['pools[0].scope.kind', 4, 20],
      ['pools[0].provider.command', 7, 7], // missing: the parent mapping's position
      ['pools[0].max', 8, 10],
      ['api.port', 10, 9],
    ],
  );
  assert.match(byPath(problems, 'pools[0].provider.command').message, /required/);
});

test('an empty file asks for pools', () => {
  assert.deepEqual(problemsOf('').map((p) => p.path), ['pools']);
});

test('unknown fields are rejected, each at its own key', () => {
  const problems = problemsOf(`${MINIMAL}api:
  host: 0.0.0.0
  prot: 9090
tokn: x
`);
  assert.deepEqual(
    problems.map((p) => [p.path, p.line, p.column]),
    [
      ['api.prot', 10, 3],
      ['tokn', 11, 1],
    ],
  );
});

test('duplicate pool names are reported at the second one', () => {
  const problems = problemsOf(`${MINIMAL}  - name: linux
    scope: { kind: org, org: acme }
    labels: [x]
    provider: { kind: process, command: [r] }
`);
  assert.deepEqual(problems.map((p) => [p.path, p.line]), [['pools[1].name', 8]]);
});

test('YAML syntax errors are problems with a line, and duplicate keys are syntax errors', () => {
  const problems = problemsOf('pools: [\napi:\n  port: 1\n');
  assert.ok(problems.length > 0);
  assert.ok(problems.every((p) => p.path === '' && typeof p.line === 'number'));
  const duplicate = problemsOf(`${MINIMAL}api: {}\napi: {}\n`);
  assert.equal(duplicate[0]?.line, 9);
});

test('JITPOOL_* overrides are applied; secret variables are not overrides', () => {
  const config = parseConfig(MINIMAL, '/etc/jitpool/jitpool.yaml', {
    JITPOOL_API__PORT: '9090',
    JITPOOL_CONTROLLER_ID: 'ci-eu-1',
    JITPOOL_POOLS__0__MAX: '8',
    JITPOOL_POOLS__0__LABELS: '[self-hosted, gpu]',
    JITPOOL_GITHUB__API_URL: 'https://ghe.example.com/api/v3',
    JITPOOL_WEBHOOK__ENABLED: 'false',
    JITPOOL_GITHUB_TOKEN: 'ghp_secret_value_0000',
    JITPOOL_WEBHOOK_SECRET: 'hook-secret-0000',
    JITPOOL_CONFIG: '/elsewhere.yaml',
    OTHER__API__PORT: '1',
  });
  assert.equal(config.api.port, 9090);
  assert.equal(config.controllerId, 'ci-eu-1');
  assert.equal(config.pools[0]?.max, 8);
  assert.deepEqual(config.pools[0]?.labels, ['self-hosted', 'gpu']);
  assert.equal(config.github.apiUrl, 'https://ghe.example.com/api/v3');
  assert.equal(config.webhook.enabled, false);
});

test('an override may add a list item at the next index', () => {
  const config = parseConfig(MINIMAL, 'x.yaml', {
    JITPOOL_POOLS__1__NAME: 'extra',
    JITPOOL_POOLS__1__SCOPE__KIND: 'org',
    JITPOOL_POOLS__1__SCOPE__ORG: 'acme',
    JITPOOL_POOLS__1__LABELS: '[big]',
    JITPOOL_POOLS__1__PROVIDER__KIND: 'process',
    JITPOOL_POOLS__1__PROVIDER__COMMAND: '[./run.sh]',
  });
  assert.equal(config.pools[1]?.name, 'extra');
});

test('a bad override is reported with its variable and no YAML position', () => {
  const problems = problemsOf(MINIMAL, {
    JITPOOL_API__PORT: 'eighty',
    JITPOOL_LOG__LEVELS: 'debug',
    JITPOOL_POOLS__3__MAX: '2',
    JITPOOL_API__PORT__X: '1',
    JITPOOL_API__port: '1',
  });
  for (const [path, variable] of [
    ['api.port', 'JITPOOL_API__PORT'],
    ['log.levels', 'JITPOOL_LOG__LEVELS'],
    ['pools[3].max', 'JITPOOL_POOLS__3__MAX'],
    ['api.port.x', 'JITPOOL_API__PORT__X'],
    ['api', 'JITPOOL_API__port'],
  ] as const) {
    const problem = byPath(problems, path);
    assert.equal(problem.envVar, variable);
    assert.equal(problem.line, undefined);
    assert.ok(problem.message.includes(`(from env ${variable})`), problem.message);
  }
});

test('loadConfig: JP_CONFIG_NOT_FOUND for a missing file, JP_CONFIG_INVALID listing every problem', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'jitpool-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const missing = join(dir, 'nope.yaml');
  assert.throws(() => loadConfig(missing), (err) => isJitpoolError(err, 'JP_CONFIG_NOT_FOUND') && err.message.includes(missing));

  const file = join(dir, 'jitpool.yaml');
  writeFileSync(file, `${MINIMAL}    max: 0\napi: { port: -1 }\n`);
  assert.throws(
    () => loadConfig(file, { env: {} }),
    (err) => {
      assert.ok(isJitpoolError(err, 'JP_CONFIG_INVALID'));
      const problems = err.details.problems as ConfigProblem[];
      assert.equal(problems.length, 2);
      assert.ok(err.message.includes(`${file}:8:10: pools[0].max: `), err.message);
      assert.ok(err.message.includes(`${file}:9:14: api.port: `), err.message);
      return true;
    },
  );

  writeFileSync(file, MINIMAL);
  const config = loadConfig(file, { env: { JITPOOL_API__PORT: '0' } });
  assert.equal(config.api.port, 0);
  assert.equal(config.store.stateDir, join(dir, '.state'));
});

test('runner.sha256 may be left out (the published digest is used); the all-zero placeholder is refused', () => {
  const withRunner = (digestLine: string) => `pools:
  - name: linux
    scope: { kind: repo, owner: acme, repo: app }
    labels: [self-hosted, linux]
    provider:
      kind: process
      runner:
        version: 2.330.0
${digestLine}`;
  assert.equal(checkConfig(withRunner(''), '/etc/jitpool/jitpool.yaml').ok, true);
  const problem = byPath(problemsOf(withRunner(`        sha256: "${'0'.repeat(64)}"\n`)), 'pools[0].provider.runner.sha256');
  assert.match(problem.message, /placeholder/);
  assert.equal(problem.line, 9);
});

test('a misspelt field gets "did you mean", and the missing field it stands for is not reported again', () => {
  const problems = problemsOf(`controlerId: x
pools:
  - name: linux
    scope: { kind: org, orgg: acme }
    lables: [self-hosted, linux]
    provider: { kind: process, comand: [/bin/true] }
    maxx: 4
  - name: other
    scope: { kind: org, org: acme }
    labels: [self-hosted, gpu]
    provider: { kind: dockr, image: x }
`);
  assert.deepEqual(problems.map((p) => [p.path, p.message]), [
    ['controlerId', 'unknown field "controlerId"; did you mean "controllerId"?'],
    ['pools[0].scope.orgg', 'unknown field "orgg"; did you mean "org"?'],
    ['pools[0].lables', 'unknown field "lables"; did you mean "labels"?'],
    ['pools[0].provider.comand', 'unknown field "comand"; did you mean "command"?'],
    ['pools[0].maxx', 'unknown field "maxx"; did you mean "max"?'],
    ['pools[1].provider.kind', '"dockr" is not one of "process", "docker", "nspawn", "vm", "external"; did you mean "docker"?'],
  ]);
  // Nothing close: no guess, and the missing field is still reported.
  const far = problemsOf(MINIMAL.replace('labels: [self-hosted, linux]', 'zzzzzz: [self-hosted, linux]'));
  assert.equal(byPath(far, 'pools[0].zzzzzz').message, 'unknown field "zzzzzz"');
  assert.match(byPath(far, 'pools[0].labels').message, /required field is missing/);
});

test('config surprises are refused: duplicate labels, equal label sets up to case, a webhook path on an API route, the admin API on the same port', () => {
  const pool = (name: string, labels: string) => `  - { name: ${name}, scope: { kind: org, org: acme }, labels: [${labels}], provider: { kind: process, command: [/bin/true] } }\n`;
  const problems = problemsOf(`webhook: { path: /api/v1/hook }
api: { host: 0.0.0.0, port: 8080, admin: { host: 127.0.0.1, port: 8080 } }
pools:
${pool('linux', 'self-hosted, linux, Linux')}${pool('linux-2', 'Self-Hosted, LINUX')}${pool('gpu', 'self-hosted, gpu')}`);
  assert.deepEqual(problems.map((p) => p.path), ['webhook.path', 'api.admin.port', 'pools[0].labels[2]', 'pools[1].labels']);
  assert.match(byPath(problems, 'webhook.path').message, /the API route \/api/);
  assert.match(byPath(problems, 'pools[0].labels[2]').message, /duplicate label "Linux"/);
  assert.match(byPath(problems, 'pools[1].labels').message, /pool "linux"/);
  // The same labels in another scope, or another runner group, are fine; so is a separate admin port.
  assert.equal(checkConfig(`api: { port: 8080, admin: { host: 127.0.0.1, port: 9090 } }
pools:
${pool('a', 'self-hosted, linux')}  - { name: b, scope: { kind: org, org: other }, labels: [self-hosted, linux], provider: { kind: process, command: [/bin/true] } }
  - { name: c, scope: { kind: org, org: acme }, runnerGroupId: 2, labels: [self-hosted, linux], provider: { kind: process, command: [/bin/true] } }
`, '/etc/jitpool/jitpool.yaml').ok, true);
  assert.equal(byPath(problemsOf(`webhook: { path: / }\n${`pools:\n${pool('a', 'x')}`}`), 'webhook.path').message, '"/" is the dashboard; use a path of its own, e.g. /webhook');
});

test('warmSchedule: windows are validated (time, time zone, minIdle within max)', () => {
  const withSchedule = (window: string) => MINIMAL.replace('    provider:', `    max: 3\n    warmSchedule:\n      - ${window}\n    provider:`);
  assert.equal(checkConfig(withSchedule('{ days: [mon, fri], from: "08:00", to: "19:00", timeZone: Europe/Berlin, minIdle: 2 }'), '/etc/jitpool/jitpool.yaml').ok, true);
  const problems = problemsOf(withSchedule('{ from: "8am", to: "19:00", timeZone: Mars/Olympus, minIdle: 9 }'));
  assert.match(byPath(problems, 'pools[0].warmSchedule[0].from').message, /HH:MM/);
  assert.match(byPath(problems, 'pools[0].warmSchedule[0].timeZone').message, /IANA time zone/);
});
