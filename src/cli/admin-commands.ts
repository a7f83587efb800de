import { z } from 'zod';
import { JitpoolError, isSafeOwner, isSafePoolName, isSafeRepo } from '../core/index.ts';
import { advanceCanary } from './canary.ts';
import { runCleanup } from './cleanup.ts';
import { doctorDeps, runDoctor } from './doctor.ts';
import type { RepoCommandInput } from './guard-context.ts';
import { scalePoolCommand } from './pool-scale.ts';
import { reconcileOnce } from './reconcile.ts';
import { runRecover } from './recover.ts';
import type { Runtime } from './runtime.ts';

/**
 * The acting commands the running daemon runs for the CLI (`POST /api/v1/commands/NAME`). Each is
 * the very function the command runs when no daemon holds the store, so both paths do the same.
 * Input is validated here: the HTTP body comes from outside.
 */

const repoInput = z.object({
  owner: z.string().refine(isSafeOwner, 'not a GitHub owner'),
  repo: z.string().refine(isSafeRepo, 'not a repository name'),
  dryRun: z.boolean().default(false),
  force: z.boolean().optional(),
}).strict();
const count = z.number().int().min(0).max(10_000);

interface AdminCommand {
  input: z.ZodType;
  run(runtime: Runtime, input: never): Promise<unknown> | unknown;
}

const COMMANDS: Record<string, AdminCommand> = {
  reconcile: { input: z.object({ dryRun: z.boolean().default(false) }).strict(), run: reconcileOnce },
  recover: { input: repoInput, run: runRecover },
  'guard-check': { input: repoInput, run: (runtime: Runtime, input: RepoCommandInput) => runtime.guard.check(input.owner, input.repo, { dryRun: input.dryRun }) },
  'guard-restore': { input: repoInput, run: (runtime: Runtime, input: RepoCommandInput) => runtime.guard.restore(input.owner, input.repo, { dryRun: input.dryRun }) },
  'canary-advance': { input: repoInput, run: advanceCanary },
  cleanup: { input: z.object({ mode: z.enum(['offline-registrations', 'all']), dryRun: z.boolean().default(false) }).strict(), run: runCleanup },
  'pool-scale': {
    input: z.object({ pool: z.string().refine(isSafePoolName, 'not a pool name'), min: count.optional(), max: count.optional(), target: count.optional(), dryRun: z.boolean().default(false) }).strict(),
    run: (runtime: Runtime, input: Parameters<typeof scalePoolCommand>[1]) => scalePoolCommand({ config: runtime.config, store: runtime.store }, input),
  },
  'doctor-repair': {
    input: z.object({ minAgeMins: count, cleanupOffline: z.boolean(), cleanupDirs: z.boolean() }).strict(),
    run: (runtime: Runtime, input: Parameters<typeof runDoctor>[1]) => runDoctor(doctorDeps(runtime), input),
  },
};

/** The names the daemon accepts. */
export const ADMIN_COMMAND_NAMES = Object.keys(COMMANDS);

/** The admin API's command runner for one runtime (the daemon's). */
export function adminCommandRunner(runtime: Runtime): (name: string, input: unknown) => Promise<unknown> {
  return async (name, input) => {
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!command) throw new JitpoolError('JP_API_NOT_FOUND', `no command ${JSON.stringify(name)}; known: ${ADMIN_COMMAND_NAMES.join(', ')}`);
    const parsed = command.input.safeParse(input);
    if (!parsed.success) {
      throw new JitpoolError('JP_INPUT_INVALID', `${name}: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ')}`);
    }
    return command.run(runtime, parsed.data as never);
  };
}
