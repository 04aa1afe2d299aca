#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CommanderError } from 'commander';
import type { CliIo } from './cli-io.js';
import { EXIT, reportError } from './error-report.js';
import { buildProgram, type CommandRunner } from './program.js';

export type { CliIo } from './cli-io.js';

/**
 * The `regent` command (`regent --help` lists every command). Returns the exit code: 0 done, 1 refused
 * or failed (the message says why), 2 a usage or configuration mistake. `serve` keeps running after it
 * returns.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const run: CommandRunner = async (work) => {
    const code = await work();
    if (typeof code === 'number') exitCode = code;
  };
  const program = buildProgram(io, run);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    // Commander printed its own message (unknown option, missing argument) or the help asked for.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const report = reportError(error, argv[0]);
    io.stderr(report.text);
    return report.exitCode;
  }
}

/** Runs the CLI as this process: stdio, the environment, and the exit code (except for a running `serve`). */
export function runCliProcess(argv: readonly string[]): void {
  const io: CliIo = {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
  };
  runCli(argv, io).then((code) => {
    const serving = argv[0] === 'serve' && code === EXIT.ok && !argv.includes('--help') && !argv.includes('-h');
    if (serving) return;
    process.exitCode = code;
    // Whatever a command left open (an idle socket, a git reader) must not keep a script waiting.
    setTimeout(() => process.exit(code), 1000).unref();
  }, (error: unknown) => {
    process.stderr.write(`regent: ${String(error)}\n`);
    process.exit(EXIT.failure);
  });
}

function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) runCliProcess(process.argv.slice(2));
