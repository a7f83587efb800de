import type { Command } from 'commander';
import { registerConfigCommand } from './config.ts';
import { registerDemoCommand } from './demo.ts';
import { registerUpCommand } from './up.ts';
import { registerCanaryCommand } from './canary.ts';
import { registerGuardCommand } from './guard.ts';
import { registerRecoverCommand } from './recover.ts';
import { registerRouteCommand } from './route.ts';

/** Every subcommand's registration, in one list so `--help` shows them all. */
export function registerCommands(program: Command): void {
  registerConfigCommand(program);
  registerDemoCommand(program);
  registerUpCommand(program);
  registerRouteCommand(program);
  registerGuardCommand(program);
  registerCanaryCommand(program);
  registerRecoverCommand(program);
}
