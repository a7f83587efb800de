import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { JitpoolError } from '../core/index.ts';
import { formatFinding, lintWorkflow, parseLabelPolicy, type LabelPolicy, type LintFinding } from '../routing/index.ts';
import { printJson, runCommand } from './github-options.ts';

/** Where a policy is looked for when `--policy` is not given (seed 000 keeps it in tools/). */
export const DEFAULT_POLICY_PATHS = ['.github/label_policy.json', 'tools/label_policy.json'] as const;

/** Workflow files under the given paths (directories are searched for *.yml / *.yaml, not recursively). */
export function workflowFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const path of paths) {
    if (!existsSync(path)) throw new JitpoolError('JP_INPUT_INVALID', `${path}: no such file or directory`);
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path).sort()) if (/\.ya?ml$/.test(name)) files.push(join(path, name));
    } else files.push(path);
  }
  return files;
}

/** Lints files against an optional policy; returns every finding. */
export function lintFiles(files: readonly string[], policy: LabelPolicy | null): LintFinding[] {
  return files.flatMap((file) => lintWorkflow(readFileSync(file, 'utf8'), file, policy));
}

/** Registers `jitpool labels lint` under the `labels` command. */
export function registerLabelsLintCommand(labels: Command): void {
  labels
    .command('lint')
    .description("Check workflow files' runs-on against a label policy (allowed labels, required base labels).")
    .argument('[paths...]', 'workflow files or directories', ['.github/workflows'])
    .addOption(new Option('--policy <file>', `label policy JSON (default: the first of ${DEFAULT_POLICY_PATHS.join(', ')} that exists)`).env('JITPOOL_LABEL_POLICY'))
    .option('--strict', 'fail on warnings too (runs-on expressions that cannot be resolved)')
    .option('--json', 'print {ok, policy, files, findings: [{file, line, column, job, severity, rule, message}]}')
    .addHelpText(
      'after',
      `
runs-on may be a string, a list of labels, or a { group, labels } object. Expressions such as
\${{ matrix.os }} cannot be resolved statically: they are reported as warnings. The policy
applies to self-hosted targets only (a self-hosted label, a group, or any label GitHub does not
host); policy format: docs/label-policy.md. Findings print as FILE:LINE:COL: severity: message.

Exit status: 0 clean, 1 errors found (or warnings with --strict), 2 unreadable input.

pre-commit (.pre-commit-config.yaml of your repository):
  - repo: https://github.com/<you>/jitpool
    rev: <tag>
    hooks: [{ id: jitpool-label-lint }]
  $ pre-commit run jitpool-label-lint -a

Examples:
  $ jitpool labels lint
  $ jitpool labels lint --policy tools/label_policy.json .github/workflows/ci.yml --json`,
    )
    .action(async (paths: string[], opts: { policy?: string; strict?: boolean; json?: boolean }) => {
      await runCommand(opts.json, async () => {
        const policyPath = opts.policy ?? DEFAULT_POLICY_PATHS.find((p) => existsSync(p)) ?? null;
        let policy: LabelPolicy | null = null;
        if (policyPath !== null) {
          let text: string;
          try {
            text = readFileSync(policyPath, 'utf8');
          } catch {
            throw new JitpoolError('JP_INPUT_INVALID', `--policy: cannot read ${policyPath}`);
          }
          policy = parseLabelPolicy(text, policyPath);
        }
        const files = workflowFiles(paths);
        const findings = lintFiles(files, policy);
        const failing = findings.filter((f) => f.severity === 'error' || opts.strict);
        if (opts.json) printJson({ ok: failing.length === 0, policy: policyPath, files, findings });
        else {
          for (const finding of findings) process.stdout.write(`${formatFinding(finding)}\n`);
          const errors = findings.filter((f) => f.severity === 'error').length;
          process.stderr.write(`${files.length} file(s), ${errors} error(s), ${findings.length - errors} warning(s)${policyPath ? '' : ' (no policy: shape checks only)'}\n`);
        }
        return failing.length === 0 ? 0 : 1;
      });
    });
}
