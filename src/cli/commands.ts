import type { Command } from 'commander';
import { registerCleanupCommand } from './cleanup.ts';
import { registerConfigCommand } from './config.ts';
import { registerDemoCommand } from './demo.ts';
import { registerDoctorCommand } from './doctor.ts';
import { registerInstallServiceCommand } from './install-service.ts';
import { registerPoolCommand } from './pool-scale.ts';
import { registerReconcileCommand } from './reconcile.ts';
import { registerReportCommand } from './report.ts';
import { registerStatusCommand } from './status.ts';
import { registerUpCommand } from './up.ts';

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
  registerUpCommand(program);
}
