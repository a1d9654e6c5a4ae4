// ESLint (flat config): the recommended rules of ESLint and typescript-eslint, and the import boundaries of the
// layers (../shared/design/ARCHITECTURE.md, docs in README "Development"): `npm run lint`, run by CI.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/** The rule that keeps imports out of some folders; `message` says which layer rule it is. */
const forbid = (patterns) => ['error', { patterns }]
const ELECTRON = { group: ['electron', 'electron/*'], message: 'Only main/app imports electron (ARCHITECTURE.md: layers).' }

export default tseslint.config(
  {
    ignores: ['node_modules/**', 'out/**', 'dist/**', 'tests/e2e/artifacts/**', '.vbs-data/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: {
        // Node and the browser, both read-only: main/ and tests run in Node, renderer/ in Chromium.
        process: 'readonly', Buffer: 'readonly', __dirname: 'readonly', console: 'readonly', setTimeout: 'readonly',
        clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly',
        URL: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', AbortController: 'readonly',
        AbortSignal: 'readonly', fetch: 'readonly', Response: 'readonly', Request: 'readonly', Headers: 'readonly',
        structuredClone: 'readonly', queueMicrotask: 'readonly', NodeJS: 'readonly', window: 'readonly',
        document: 'readonly', navigator: 'readonly', localStorage: 'readonly', File: 'readonly', Blob: 'readonly',
        FormData: 'readonly', XMLHttpRequest: 'readonly', EventSource: 'readonly', ReadableStream: 'readonly',
        performance: 'readonly', crypto: 'readonly', DOMException: 'readonly', HTMLElement: 'readonly',
      },
    },
    rules: {
      // Names starting with _ are deliberately unused (a parameter an interface requires).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // TypeScript checks these itself (tsc --noEmit, strict).
      'no-undef': 'off',
      // A variable a closure reads before its one assignment stays `let`, declared where readers expect it.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },

  // Layers. Only main/app (the Electron shell) and preload/ (its contextBridge) import electron.
  {
    files: ['**/*.{ts,tsx,mts,mjs,js}'],
    ignores: ['main/app/**', 'preload/**', 'tests/e2e/electron.test.ts', 'electron.vite.config.ts'],
    rules: {
      'no-restricted-imports': forbid([ELECTRON]),
    },
  },
  // Nothing imports main/app but the Electron entry (main/index.ts), and main/store imports neither main/batch
  // nor main/server. Imports are relative, so the patterns are written per folder depth.
  ...[0, 1, 2, 3].map((depth) => {
    const up = depth === 0 ? '\\./' : '(\\.\\./){' + depth + '}'
    return {
      files: [`main/${'*/'.repeat(depth)}*.ts`],
      ignores: ['main/app/**', 'main/index.ts'],
      rules: { 'no-restricted-imports': forbid([ELECTRON, { regex: `^${up}app(/|$)`, message: 'Nothing imports main/app: the shell is built around the service, not inside it.' }]) },
    }
  }),
  ...[1, 2].map((depth) => {
    const up = '(\\.\\./){' + depth + '}'
    return {
      files: [`main/store/${'*/'.repeat(depth - 1)}*.ts`],
      rules: {
        'no-restricted-imports': forbid([
          ELECTRON,
          { regex: `^${up}app(/|$)`, message: 'Nothing imports main/app.' },
          { regex: `^${up}batch(/|$)`, message: 'main/store imports nothing of main/batch: the batch layer uses the store, not the other way.' },
          { regex: `^${up}server(/|$)`, message: 'main/store imports nothing of main/server.' },
        ]),
      },
    }
  }),
  // Tests import main/app only in the shell's own unit tests.
  {
    files: ['tests/**/*.{ts,tsx}'],
    ignores: ['tests/unit/app-*.test.ts', 'tests/e2e/electron.test.ts'],
    rules: { 'no-restricted-imports': forbid([ELECTRON, { regex: '(^|/)main/app(/|$)', message: 'Only the shell\'s own unit tests (tests/unit/app-*) import main/app.' }]) },
  },
  // The renderer gets its data over HTTP exactly as a browser on the LAN: of main/ it imports the contract only.
  {
    files: ['renderer/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['electron', 'electron/*'], message: 'The renderer talks to the main process through preload only.' },
            // The contract (main/contract: runtime-neutral shapes and constants) is what it shares with the service.
            { regex: '(^|/)main/(?!contract(/|$))', message: 'The renderer imports from main/ only main/contract (the shapes and constants it shares with the service), types included.' },
          ],
        },
      ],
    },
  },

  // The vbs command and the batch helper are clients of the HTTP API, as any program on the LAN: of main/ they
  // import the contract only (its shapes and rules), never the store, the server or the service.
  {
    files: ['cli/**/*.ts', 'lib/**/*.ts'],
    rules: {
      'no-restricted-imports': forbid([
        ELECTRON,
        { regex: '(^|/)main/(?!contract(/|$))', message: 'The CLI and the helper import from main/ only main/contract: they talk to the service over HTTP.' },
        { regex: '(^|/)renderer(/|$)', message: 'The CLI does not import the window.' },
      ]),
    },
  },

  // The contract is runtime-neutral: the browser, the CLI and the service all load it.
  {
    files: ['main/contract/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^(?!\\./)', message: 'main/contract imports only its own files: no Node, no Electron, nothing else of main/.' },
          ],
        },
      ],
    },
  },
)
