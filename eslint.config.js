import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

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
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/git/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'simple-git', message: 'Only src/git/ imports simple-git.' }] }],
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
          { group: ['**/http/**', '**/git/**', '**/opa/**', '**/config/**'], message: 'The domain depends on nothing outside it.' },
        ],
      }],
    },
  },
);
