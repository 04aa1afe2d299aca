#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isRegentError } from '../domain/errors.js';
import { stderrLogger } from './stderr-logger.js';
import { runTokenCommand } from './token-command.js';
import { UsageError } from './usage-error.js';

const SERVE_USAGE = `usage: regent serve [--dev] [--config <file>]

Runs Regent. Configuration: defaults < the YAML file (--config or REGENT_CONFIG) < REGENT_* variables.
--dev generates a bundle signing key and an admin token secret in the data directory when none is set.
`;

const USAGE = `usage: regent <command> [options]

commands:
  serve [--dev] [--config <file>]     run the policy store and bundle server
  token --sub <s> --role <r> [...]    print an admin API token (regent token --help)
`;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

/**
 * The `regent` command. Returns the exit code: 0 done, 2 a usage or configuration mistake (the
 * message says which), 1 anything else. `serve` keeps running after it returns.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(args, io);
      case 'token':
        runTokenCommand(args, { stdout: io.stdout, env: io.env, logger: stderrLogger(io.stderr) });
        return 0;
      case 'help':
      case '--help':
      case '-h':
        io.stdout(USAGE);
        return 0;
      default:
        throw new UsageError(command === undefined ? 'no command given' : `unknown command '${command}'`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(command === 'token' || command === 'serve' ? `regent: ${error.message}\n(see: regent ${command} --help)\n` : `regent: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (isRegentError(error)) {
      io.stderr(`regent: ${error.message} [${error.code}]\n`);
      return 2;
    }
    io.stderr(`regent: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

/** `regent serve`: the same process `node dist/main.js` runs; flags are checked strictly first. */
async function serve(args: readonly string[], io: CliIo): Promise<number> {
  let values: { dev?: boolean; config?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: [...args], strict: true, allowPositionals: false, options: { dev: { type: 'boolean' }, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) {
    io.stdout(SERVE_USAGE);
    return 0;
  }
  const { main } = await import('../main.js');
  await main([...(values.dev ? ['--dev'] : []), ...(values.config === undefined ? [] : ['--config', values.config])]);
  return 0;
}

function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  runCli(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
  }).then((code) => {
    if (code !== 0) process.exitCode = code;
  }, (error: unknown) => {
    process.stderr.write(`regent: ${String(error)}\n`);
    process.exitCode = 1;
  });
}
