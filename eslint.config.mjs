// Layering rules, and nothing else: which part of the tree may import what, and where DOM globals may
// appear. `npm run lint` runs them on the tree; test/unit/core-purity.test.ts checks that they bite.
//
//   src/core       pure TS (tensors, cells, training, formats, diff); runs on plain node, in workers and in
//                  the webview: no vscode, no Node built-ins, no DOM, nothing from the other layers
//   src/engines    the fast engines: core (and Node built-ins)
//   src/node       file-system helpers: core, engines
//   src/protocol   worker and webview messages: core, and types only from node; no Node built-ins
//   src/worker     the worker: core, engines, node, protocol
//   src/cli        core, engines, node, protocol, worker
//   src/extension  (and src/extension.ts) everything but cli; the only place that may import `vscode`.
//                  Its logic/, services/ and lifecycle.ts run on plain node in the unit tests, so they stay
//                  off `vscode` and off the vscode-facing modules next to them; logic/ is bundled into the
//                  webview as well, so it also stays off Node built-ins, services and the node-side layers
//   webview/       core, protocol and src/extension/logic; the only place for DOM globals
//   test/          anything, but only test/extension (run inside VS Code) may import `vscode`
//
// A relative specifier is matched by the first name after its run of `../`: `../engines/x` from src/core and
// `../../src/worker/client` from test/unit both name a layer. That holds because no file or folder inside a
// layer shares a layer's name. `import type` counts as an import unless a rule says `allowTypeImports`.
//
// TypeScript is parsed with Babel's TypeScript syntax plugin rather than typescript-eslint: typescript-eslint
// needs the compiler's JavaScript API, which the `typescript` 7 package (the native compiler) does not ship,
// and these rules need no type information. Run ESLint with --no-inline-config: a layering exception belongs
// in this file, not in an `eslint-disable` comment.
import { readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import babelParser from '@babel/eslint-parser';

const here = import.meta.dirname;
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A relative import of one of `names` (a folder or a module, with or without `src/` in front). */
const up = (...names) => `^(?:\\.\\./)+(?:src/)?(?:${names.map(escape).join('|')})(?:/|$)`;

const VSCODE = { regex: '^vscode$', message: 'Only src/extension/** and src/extension.ts may use the VS Code API.' };
const VSCODE_FREE = { ...VSCODE, message: 'src/extension/logic, services and lifecycle.ts run on plain node in the unit tests: no vscode.' };
const NODE_BUILTINS = {
  regex: `^(?:node:|(?:${builtinModules.map(escape).join('|')})(?:/|$))`,
  message: 'No Node built-ins here: this code also runs in the webview. Take data or an interface instead.',
};
const OUT_OF_SRC = { regex: up('webview', 'test'), message: 'src/ may not import webview/ or test/.' };
const layer = (names, why) => ({ regex: up(...names), message: `Layering: ${why}` });

// The modules of src/extension that use `vscode` (everything but logic/, services/ and lifecycle.ts).
const pureExtension = new Set(['logic', 'services', 'lifecycle']);
const hostModules = readdirSync(`${here}/src/extension`)
  .map((n) => n.replace(/\.ts$/, ''))
  .filter((n) => !pureExtension.has(n));
const HOST_MODULES = layer(hostModules, `this module runs on plain node; src/extension/{${hostModules.join(',')}} use vscode.`);

const DOM_GLOBALS = ['document', 'window', 'navigator', 'localStorage', 'acquireVsCodeApi'].map((name) => ({
  name,
  message: 'DOM globals belong in webview/ only.',
}));

/** The restrictions of one part of the tree; a later entry replaces an earlier one for the files it matches. */
const rules = [
  {
    files: ['src/**/*.ts'],
    deny: [VSCODE, OUT_OF_SRC],
  },
  {
    files: ['src/core/**/*.ts'],
    deny: [
      VSCODE,
      NODE_BUILTINS,
      OUT_OF_SRC,
      layer(['protocol', 'engines', 'node', 'worker', 'cli', 'extension'], 'src/core imports nothing outside src/core.'),
    ],
  },
  {
    files: ['src/engines/**/*.ts'],
    deny: [VSCODE, OUT_OF_SRC, layer(['protocol', 'node', 'worker', 'cli', 'extension'], 'src/engines builds on src/core only.')],
  },
  {
    files: ['src/node/**/*.ts'],
    deny: [VSCODE, OUT_OF_SRC, layer(['protocol', 'worker', 'cli', 'extension'], 'src/node builds on src/core and src/engines only.')],
  },
  {
    files: ['src/protocol/**/*.ts'],
    deny: [
      VSCODE,
      NODE_BUILTINS,
      OUT_OF_SRC,
      layer(['engines', 'worker', 'cli', 'extension'], 'src/protocol describes messages; it depends on src/core only.'),
      { ...layer(['node'], 'src/protocol may take types, not code, from src/node.'), allowTypeImports: true },
    ],
  },
  {
    files: ['src/worker/**/*.ts'],
    deny: [VSCODE, OUT_OF_SRC, layer(['cli', 'extension'], 'the worker serves the front ends, it does not import them.')],
  },
  {
    files: ['src/cli/**/*.ts'],
    deny: [VSCODE, OUT_OF_SRC, layer(['extension'], 'the CLI and the extension are separate front ends.')],
  },
  {
    files: ['src/extension.ts', 'src/extension/**/*.ts'],
    deny: [OUT_OF_SRC, layer(['cli'], 'the CLI and the extension are separate front ends.')],
  },
  {
    files: ['src/extension/lifecycle.ts', 'src/extension/services/**/*.ts'],
    deny: [VSCODE_FREE, OUT_OF_SRC, HOST_MODULES, layer(['cli'], 'the CLI and the extension are separate front ends.')],
  },
  {
    files: ['src/extension/logic/**/*.ts'],
    deny: [
      VSCODE_FREE,
      NODE_BUILTINS,
      OUT_OF_SRC,
      HOST_MODULES,
      layer(['services', 'engines', 'node', 'worker', 'cli'], 'src/extension/logic is bundled into the webview; it builds on src/core and src/protocol.'),
    ],
  },
  {
    files: ['webview/**/*.ts'],
    deny: [
      VSCODE,
      NODE_BUILTINS,
      { regex: '^(?:\\.\\./)+src/(?:engines|node|worker|cli|kernels)(?:/|$)', message: 'Layering: the webview may use src/core, src/protocol and src/extension/logic only.' },
      { regex: '^(?:\\.\\./)+src/extension(?=/|$)(?!/logic(?:/|$))', message: 'Layering: of src/extension, the webview may use logic/ only.' },
    ],
  },
  {
    files: ['test/**/*.ts'],
    ignores: ['test/extension/**'],
    deny: [{ ...VSCODE, message: 'Only test/extension runs inside VS Code; these tests run on plain node.' }],
  },
];

/** `import ... from`, `export ... from`, `import x = require()`, and also `import()` and `require()`. */
function restrict(deny) {
  const dynamic = deny.flatMap(({ regex, message }) => {
    const re = `/${regex.replaceAll('/', '\\/')}/`;
    return [
      { selector: `ImportExpression[source.value=${re}]`, message },
      { selector: `CallExpression[callee.name="require"][arguments.0.value=${re}]`, message },
    ];
  });
  return {
    'no-restricted-imports': ['error', { patterns: deny.map((d) => ({ caseSensitive: true, allowTypeImports: false, ...d })) }],
    'no-restricted-syntax': ['error', ...dynamic],
  };
}

// Scopes are analysed by ESLint itself on the value positions of the tree: Babel's own analysis (written for
// Flow) takes names in types, such as interface members, for references to globals.
const TYPE_KEYS = new Set(['typeAnnotation', 'returnType', 'typeParameters', 'typeArguments', 'superTypeParameters', 'implements']);
const TS_VALUE_KEYS = {
  TSAsExpression: ['expression'],
  TSSatisfiesExpression: ['expression'],
  TSNonNullExpression: ['expression'],
  TSTypeAssertion: ['expression'],
  TSInstantiationExpression: ['expression'],
  TSParameterProperty: ['parameter'],
  TSExportAssignment: ['expression'],
  TSEnumDeclaration: ['members'],
  TSEnumMember: ['initializer'],
  TSModuleDeclaration: ['body'],
  TSModuleBlock: ['body'],
  TSImportEqualsDeclaration: ['moduleReference'],
  TSExternalModuleReference: ['expression'],
};
const parserOptions = { requireConfigFile: false, babelOptions: { babelrc: false, configFile: false, plugins: ['@babel/plugin-syntax-typescript'] } };
const valueKeys = Object.fromEntries(
  Object.entries(babelParser.parseForESLint('', parserOptions).visitorKeys).map(([type, keys]) => [
    type,
    type.startsWith('TS') ? (TS_VALUE_KEYS[type] ?? []) : keys.filter((k) => !TYPE_KEYS.has(k)),
  ]),
);
const typescriptParser = {
  meta: { name: 'babel-typescript-values' },
  parseForESLint: (code, options) => ({ ast: babelParser.parse(code, { ...options, ...parserOptions }), visitorKeys: valueKeys }),
};

export default [
  { ignores: ['test/fixtures/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: typescriptParser },
  },
  ...rules.map(({ deny, ...files }) => ({ ...files, rules: restrict(deny) })),
  { files: ['src/**/*.ts'], rules: { 'no-restricted-globals': ['error', ...DOM_GLOBALS] } },
];
