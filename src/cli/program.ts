import { Command, Option } from 'commander';
import type { CliIo } from './cli-io.js';
import { registerRemoteCommands } from './remote-commands.js';
import { ROLES } from '../domain/auth/principal.js';

const SIGNING_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'HS256', 'HS384', 'HS512'];

const DESCRIPTION = `A Git-backed policy store and signed OPA bundle server.

Offline (no running Regent needed): serve, build, verify, keygen, token, audit verify --data-dir.
Against a running Regent (--url or REGENT_URL, default http://127.0.0.1:8080; --token or REGENT_TOKEN):
status, policies, versions, diff, rollback, validate, evaluate, change-requests, audit, fleet.
Output is for people; --json prints JSON for scripts. Errors go to stderr.
Exit codes: 0 done, 1 refused or failed (a bundle that does not verify, a problem from the server), 2 a usage or configuration mistake.`;

/** Runs a command's implementation (imported only when that command runs, so `regent token` stays fast). */
export type CommandRunner = (run: () => Promise<number | void>) => Promise<void>;

/**
 * The `regent` command line: every command, its flags and its help. Implementations are loaded lazily
 * by `run`. Unknown flags and extra arguments are refused (exit 2).
 */
export function buildProgram(io: CliIo, run: CommandRunner): Command {
  const program = new Command('regent')
    .description(DESCRIPTION)
    .helpCommand('help [command]', 'show help for a command')
    .exitOverride()
    // A command's options belong to it: `audit verify --url x` gives --url to `verify`, not to `audit`.
    .enablePositionalOptions()
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      writeErr: (text) => io.stderr(text),
      outputError: (text, write) => write(`regent: ${text.replace(/^error: /, '')}`),
    })
    .showHelpAfterError('(add --help for usage)');

  program.command('serve')
    .summary('run the policy store and bundle server')
    .description('run the policy store and bundle server (what `node dist/main.js` runs)')
    .option('--dev', 'development mode: generate a bundle signing key and an admin token secret in the data directory when none is configured')
    .option('--config <file>', 'YAML configuration file (else REGENT_CONFIG); REGENT_* variables win over it')
    .addOption(new Option('--log-format <format>', 'json (default: one object per line) or pretty (readable, for a terminal); REGENT_LOG_FORMAT').choices(['json', 'pretty']))
    .action((options: { dev?: boolean; config?: string; logFormat?: 'json' | 'pretty' }) => run(async () => {
      const { main } = await import('../main.js');
      await main(options);
    }));

  program.command('build')
    .summary('build signed bundles offline, gated by real OPA (for CI)')
    .description('build the signed bundles of a policy directory or of a revision of a Git repository, offline, with the same gate as Regent (real OPA: check and tests) and the same builder; for CI pipelines')
    .argument('<source>', 'a directory of policies, or a revision (commit SHA, branch, tag, HEAD) of the repository given by --store')
    .requiredOption('-o, --output <dir>', 'where to write <bundle>.tar.gz (created if missing)')
    .option('--store <git-dir>', 'the Git repository a revision is read from (default: the repository of the current directory)')
    .option('--config <file>', 'Regent configuration (signing key, OPA path and limits); REGENT_* variables apply too')
    .option('--signing-key <pem>', 'private key (or HMAC secret) file the bundles are signed with; else signing.privateKeyFile / REGENT_SIGNING_KEY_FILE')
    .option('--key-id <id>', 'key id of the signatures (agents pin it as signing.keyid); else signing.keyId (regent)')
    .addOption(new Option('--signing-alg <alg>', 'signing algorithm; else signing.algorithm (RS256)').choices(SIGNING_ALGORITHMS))
    .option('--revision <text>', "the manifest's revision for a directory build (default: a digest of the directory's files)")
    .option('--json', 'print the result as JSON')
    .option('-q, --quiet', 'no progress on stderr')
    .action((source: string, options: BuildFlags) => run(async () => (await import('./build-command.js')).runBuild(source, options, io)));

  program.command('verify')
    .summary("check a bundle's signature and layout as OPA does")
    .description("check a bundle's signature and layout as an OPA agent does (exit 1 when OPA would refuse it)")
    .argument('<bundle>', 'the bundle (.tar.gz)')
    .requiredOption('--key <pem>', 'public key (PEM) the agents verify with (or the HMAC secret file for HS*)')
    .option('--key-id <id>', "the agents' signing.keyid (default: the key id the signature names)")
    .addOption(new Option('--signing-alg <alg>', "the agents' keys.<id>.algorithm (default: from the key: RS256 for RSA, ES256/384/512 by curve)").choices(SIGNING_ALGORITHMS))
    .option('--scope <scope>', "the agents' signing.scope")
    .option('--json', 'print the result as JSON')
    .action((bundle: string, options: VerifyFlags) => run(async () => (await import('./verify-command.js')).runVerify(bundle, options, io)));

  program.command('keygen')
    .summary('generate a bundle signing key pair (mode 0600)')
    .description('generate a bundle signing key pair, <key-id>.pem and <key-id>.pub.pem (mode 0600), never over existing files')
    .option('--key-id <id>', 'key id (file names, and the agents\' signing.keyid)', 'regent')
    .addOption(new Option('--signing-alg <alg>', 'algorithm the key is for').choices(SIGNING_ALGORITHMS).default('RS256'))
    .option('-o, --output <dir>', 'directory for the files (created 0700 if missing)', '.')
    .option('--json', 'print the result as JSON')
    .action((options: KeygenFlags) => run(async () => (await import('./keygen-command.js')).runKeygen(options, io)));

  program.command('token')
    .summary('print an admin API token')
    .description('print an admin API token (a JWT) on stdout, signed with the key Regent verifies admin tokens with')
    .requiredOption('--sub <subject>', 'who the token names (the git author of their changes)')
    .addOption(new Option('--role <role>', 'what they may do').choices([...ROLES]).makeOptionMandatory())
    .option('--name <name>', 'display name (git author name)')
    .option('--email <address>', 'e-mail address (git author e-mail)')
    .option('--ttl <seconds>', 'lifetime (default 3600; at most auth.maxTokenLifetimeSeconds)')
    .option('--dev', "development mode: the secret generated in the data directory (created when missing); without --dev, the data directory's development secret is used when it exists and no key is configured")
    .option('--config <file>', 'Regent configuration (auth.*); REGENT_* variables apply too')
    .option('--private-key <pem>', 'for RS/PS/ES tokens: the private key matching auth.publicKeyFile')
    .action((options: TokenFlags) => run(async () => (await import('./token-command.js')).runTokenCommand(options, io)));

  registerRemoteCommands(program, io, run);
  return program;
}

export interface BuildFlags {
  output: string;
  store?: string;
  config?: string;
  signingKey?: string;
  keyId?: string;
  signingAlg?: string;
  revision?: string;
  json?: boolean;
  quiet?: boolean;
}

export interface VerifyFlags {
  key: string;
  keyId?: string;
  signingAlg?: string;
  scope?: string;
  json?: boolean;
}

export interface KeygenFlags {
  keyId: string;
  signingAlg: string;
  output: string;
  json?: boolean;
}

export interface TokenFlags {
  sub: string;
  role: string;
  name?: string;
  email?: string;
  ttl?: string;
  dev?: boolean;
  config?: string;
  privateKey?: string;
}
