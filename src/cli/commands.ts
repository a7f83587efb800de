import type { Command } from 'commander';
import { registerAppCheckCommand } from './app-check.ts';
import { registerAppInstallationIdCommand } from './app-installation-id.ts';
import { registerAppTokenCommand } from './app-token.ts';
import { registerCleanupCommand } from './cleanup.ts';
import { registerConfigCommand } from './config.ts';
import { registerDemoCommand } from './demo.ts';
import { registerDoctorCommand } from './doctor.ts';
import { registerImageBuildCommand } from './image-build.ts';
import { registerInstallServiceCommand } from './install-service.ts';
import { registerJitConfigCommand } from './jit-config.ts';
import { registerLabelsLintCommand } from './labels-lint.ts';
import { registerLabelsPreflightCommand } from './labels-preflight.ts';
import { registerPoolCommand } from './pool-scale.ts';
import { registerReconcileCommand } from './reconcile.ts';
import { registerReportCommand } from './report.ts';
import { registerRunnerOnceCommand } from './runner-once.ts';
import { registerRunnerRepairCommand } from './runner-repair.ts';
import { registerStatusCommand } from './status.ts';
import { registerStoreCommand } from './store.ts';
import { registerUpCommand } from './up.ts';
import { registerCanaryCommand } from './canary.ts';
import { registerGuardCommand } from './guard.ts';
import { registerRecoverCommand } from './recover.ts';
import { registerRouteCommand } from './route.ts';
import { registerSimCommand } from './sim.ts';

/** Every subcommand's registration, in one list so `--help` shows them all. */
export function registerCommands(program: Command): void {
  registerCleanupCommand(program);
  registerConfigCommand(program);
  registerDemoCommand(program);
  registerDoctorCommand(program);
  registerInstallServiceCommand(program);
  registerPoolCommand(program);
  registerReconcileCommand(program);
  registerReportCommand(program);
  registerStatusCommand(program);
  registerStoreCommand(program);
  registerUpCommand(program);
  registerJitConfigCommand(program);

  const runner = program.command('runner').description('One-shot runners: run one ephemeral runner in the foreground, or repair a long-lived base runner\'s registration.');
  registerRunnerOnceCommand(runner);
  registerRunnerRepairCommand(runner);

  const labels = program.command('labels').description('Label tools: minimal label set for queued jobs, workflow label lint.');
  registerLabelsPreflightCommand(labels);
  registerLabelsLintCommand(labels);

  const image = program.command('image').description('Base images for machine providers (nspawn, vm): recipe → root directory + manifest.');
  registerImageBuildCommand(image);

  const app = program.command('app').description('GitHub App helpers: check the App id and private key, find the installation id, mint installation tokens.');
  registerAppCheckCommand(app);
  registerAppInstallationIdCommand(app);
  registerAppTokenCommand(app);
  registerRouteCommand(program);
  registerGuardCommand(program);
  registerCanaryCommand(program);
  registerRecoverCommand(program);
  registerSimCommand(program);
}
