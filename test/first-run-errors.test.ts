import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './cli-helpers.ts';

/**
 * The mistakes a new operator makes first (issue 20, item 1), through the real command line:
 * each prints one line `jitpool: CODE: message — fix` on stderr, the same in every command, with
 * the documented exit status (docs/cli-errors.md) and no stack trace unless --debug.
 */

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'jp-first-run-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A config that needs the GitHub token, the webhook secret and the admin token from the environment. */
function writeConfig(dir: string): string {
  const file = join(dir, 'jitpool.yaml');
  writeFileSync(file, `store: { stateDir: ./state }
api: { port: 0 }
pools:
  - { name: linux, scope: { kind: org, org: acme }, labels: [self-hosted, linux], provider: { kind: process, command: [/bin/true], sandbox: none }, max: 2 }
`);
  return file;
}

/** Asserts the one-line shape and returns the line. */
function oneErrorLine(res: { code: number; stdout: string; stderr: string }, code: string, exitCode = 2): string {
  const lines = res.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${res.stderr}`);
  assert.match(lines[0]!, new RegExp(`^jitpool: ${code}: \\S`), res.stderr);
  assert.doesNotMatch(res.stderr, /^\s+at /m, 'no stack trace without --debug');
  assert.equal(res.code, exitCode, res.stderr);
  return lines[0]!;
}

describe('first-run mistakes print one line with a code and a fix', () => {
  it('up without JITPOOL_GITHUB_TOKEN, then without JITPOOL_API_TOKEN', async (t) => {
    const dir = tempDir(t);
    const file = writeConfig(dir);
    const noToken = await runCli(['up', '-c', file], { JITPOOL_WEBHOOK_SECRET: 'w'.repeat(32), JITPOOL_API_TOKEN: 'a'.repeat(32) }, dir);
    assert.match(oneErrorLine(noToken, 'JP_SECRET_MISSING'), /JITPOOL_GITHUB_TOKEN/);
    const noApiToken = await runCli(['up', '-c', file], { JITPOOL_GITHUB_TOKEN: 'ghp_notarealtoken0000', JITPOOL_WEBHOOK_SECRET: 'w'.repeat(32) }, dir);
    assert.match(oneErrorLine(noApiToken, 'JP_SECRET_MISSING'), /JITPOOL_API_TOKEN/);
  });

  it('doctor without a config and with a broken one', async (t) => {
    const dir = tempDir(t);
    oneErrorLine(await runCli(['doctor'], {}, dir), 'JP_CONFIG_NOT_FOUND');
    writeFileSync(join(dir, 'bad.yaml'), 'pools: [\n');
    const bad = await runCli(['doctor', '-c', 'bad.yaml'], {}, dir);
    // The error line, then the problem list in the FILE:LINE:COL form editors understand.
    const [first, ...problems] = bad.stderr.trimEnd().split('\n');
    assert.match(first!, /^jitpool: JP_CONFIG_INVALID: /);
    assert.ok(problems.length >= 1 && problems.every((line) => line.startsWith('bad.yaml:')), bad.stderr);
    assert.doesNotMatch(bad.stderr, /^\s+at /m);
    assert.equal(bad.code, 2);
  });

  it('demo --serve notaport is a usage error, not a crash', async (t) => {
    const line = oneErrorLine(await runCli(['demo', '--serve', 'notaport'], {}, tempDir(t)), 'JP_INPUT_INVALID');
    assert.match(line, /--serve/);
  });

  it('the same mistake reads the same and exits the same in every command', async (t) => {
    const dir = tempDir(t);
    const commands = [['up'], ['doctor'], ['status'], ['report'], ['recover'], ['config', 'check'], ['store', 'check'], ['pool', 'scale', 'linux'], ['reconcile', '--once'], ['guard', '--owner', 'acme', '--repo', 'app'], ['canary', 'status', '--owner', 'acme', '--repo', 'app']];
    const lines = new Set<string>();
    for (const args of commands) {
      const res = await runCli(args, {}, dir);
      lines.add(`${oneErrorLine(res, 'JP_CONFIG_NOT_FOUND')} (exit ${res.code})`);
    }
    assert.equal(lines.size, 1, [...lines].join('\n'));
  });

  it('usage errors name the command whose help to read; --debug adds the stack', async (t) => {
    const dir = tempDir(t);
    const unknown = oneErrorLine(await runCli(['status', '--no-such-flag'], {}, dir), 'JP_INPUT_INVALID');
    assert.match(unknown, /--no-such-flag.* — see `jitpool status --help`$/);
    const nested = oneErrorLine(await runCli(['pool', 'scale'], {}, dir), 'JP_INPUT_INVALID');
    assert.match(nested, /`jitpool pool scale --help`/);

    const debug = await runCli(['doctor', '--debug'], {}, dir);
    assert.match(debug.stderr, /^jitpool: JP_CONFIG_NOT_FOUND: /);
    assert.match(debug.stderr, /^\s+at /m, 'a stack trace with --debug');
    assert.equal(debug.code, 2);
  });

  it('--json carries the same code, message and fix on stdout', async (t) => {
    const dir = tempDir(t);
    const res = await runCli(['status', '--json'], {}, dir);
    assert.equal(res.code, 2);
    const body = JSON.parse(res.stdout) as { ok: boolean; code: string; error: { code: string } };
    assert.equal(body.ok, false);
    assert.equal(body.code, 'JP_CONFIG_NOT_FOUND');
    assert.equal(body.error.code, 'JP_CONFIG_NOT_FOUND');
  });

  it('help and version still exit 0', async (t) => {
    const dir = tempDir(t);
    const help = await runCli(['status', '--help'], {}, dir);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: jitpool status/);
    assert.equal((await runCli(['--version'], {}, dir)).code, 0);
  });
});
