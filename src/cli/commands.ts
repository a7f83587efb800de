import type { Command } from 'commander';

/** Every subcommand's registration, in one list so `--help` shows them all. */
export function registerCommands(_program: Command): void {
}
