// Lint: TypeScript rules everywhere, and the sans-I/O rule for foundation and protocol packages:
// no node:* modules, sockets, files, clocks, timers, global randomness or process. The runtime
// package is where I/O lives; the sodium-native provider is the one exception inside a foundation package.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ioModules = [
  'fs',
  'fs/promises',
  'net',
  'dgram',
  'dns',
  'http',
  'https',
  'http2',
  'tls',
  'child_process',
  'cluster',
  'os',
  'path',
  'crypto',
  'worker_threads',
  'timers',
  'timers/promises',
  'process',
  'perf_hooks',
  'ws',
  'better-sqlite3',
  'postgres',
  'pg',
  'sodium-native',
];

const sansIo = {
  'no-restricted-imports': [
    'error',
    {
      paths: ioModules.map((name) => ({
        name,
        message: 'protocol and foundation packages do no I/O (STYLE.md): take it as an input',
      })),
      patterns: [
        {
          group: ['node:*'],
          message: 'protocol and foundation packages do no I/O (STYLE.md): take it as an input',
        },
      ],
    },
  ],
  'no-restricted-globals': [
    'error',
    ...[
      'Date',
      'setTimeout',
      'setInterval',
      'setImmediate',
      'clearTimeout',
      'clearInterval',
      'clearImmediate',
      'process',
      'Buffer',
      'performance',
      'fetch',
      'WebSocket',
      'crypto',
      'require',
    ].map((name) => ({
      name,
      message: 'protocol and foundation packages take time, randomness and I/O as inputs (STYLE.md)',
    })),
  ],
  'no-restricted-properties': [
    'error',
    { object: 'Math', property: 'random', message: 'inject an Rng (STYLE.md): no global randomness' },
    { object: 'globalThis', message: 'no reaching around the sans-I/O rule through globalThis' },
  ],
};

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: [
            '*.js',
            'scripts/*.mjs',
            'packages/runtime/src/*.mjs',
            'packages/runtime/test/fixtures/*.mjs',
            'apps/*/bin/*.mjs',
          ],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: 'TSEnumDeclaration', message: 'no enum: use a const object (STYLE.md)' },
        { selector: 'TSModuleDeclaration[kind="namespace"]', message: 'no namespace (STYLE.md)' },
        { selector: 'TSParameterProperty', message: 'no parameter properties (STYLE.md)' },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // node:test's describe/it return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    files: ['packages/*/src/**/*.ts'],
    ignores: ['packages/runtime/**', 'packages/testkit/**', 'packages/crypto/src/sodium-provider.ts'],
    rules: sansIo,
  },
);
