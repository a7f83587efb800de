import type { Command } from 'commander';
import { registerConfigCommand } from './config.ts';
import { registerDemoCommand } from './demo.ts';
import { registerDoctorCommand } from './doctor.ts';
import { registerUpCommand } from './up.ts';

/** Every subcommand's registration, in one list so `--help` shows them all. */
export function registerCommands(program: Command): void {
  registerConfigCommand(program);
  registerDemoCommand(program);
  registerDoctorCommand(program);
  registerUpCommand(program);
}
