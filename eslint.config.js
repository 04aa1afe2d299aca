import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/** Functions that start a process from a command name (node:child_process and bench/lib/harness.ts). */
const SPAWNERS = '/^(spawn|spawnSync|execFile|execFileSync|exec|execSync|run|runOrFail|spawnChild)$/';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', 'data/**', 'coverage/**', 'bench/.work/**'] },
  { languageOptions: { globals: globals.node } },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.object.name=/^(it|test|describe)$/][callee.property.name=/^(only|skip|todo)$/]", message: 'No focused or skipped tests.' },
        ...['callee.name', 'callee.property.name'].map((callee) => ({
          selector: `CallExpression[${callee}=${SPAWNERS}][arguments.0.value=/^(node|npx|npm)(\\s|$)/]`,
          message: 'Start Node as process.execPath (or a named binary), never `node`/`npx`/`npm` from PATH: under npm that is node_modules/.bin/node, the pinned Node 24, whatever Node runs the code.',
        })),
      ],
    },
  },
  {
    // The web view runs in browsers (bundled by scripts/build-ui.mjs), not in Node.
    files: ['ui/**/*.ts'],
    languageOptions: { globals: globals.browser },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/git/**', 'src/sinks/**'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'simple-git', message: 'Only src/git/ imports simple-git.' }],
        patterns: [{ group: ['@aws-sdk/*'], message: 'Only src/sinks/ talks to S3.' }],
      }],
    },
  },
  {
    files: ['src/sinks/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'simple-git', message: 'Only src/git/ imports simple-git.' }],
        patterns: [{ group: ['**/http/**', '**/git/**', '**/opa/**', '**/storage/**', '**/config/**'], message: 'Sinks (S3, OCI) are adapters of the domain: they depend on it alone.' }],
      }],
    },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['express', 'express/*'], message: 'The domain knows nothing of HTTP.' },
          { group: ['simple-git'], message: 'Only src/git/ talks to git.' },
          { group: ['node:child_process', 'child_process'], message: 'The domain spawns nothing: use src/git or src/opa adapters.' },
          { group: ['**/http/**', '**/git/**', '**/opa/**', '**/config/**', '**/sinks/**', '@aws-sdk/*'], message: 'The domain depends on nothing outside it.' },
        ],
      }],
    },
  },
);
