#!/usr/bin/env node
'use strict';
// Launcher. From an installed package it runs the compiled CLI (dist/); in this repository,
// where the TypeScript sources are, it runs them through tsx, so `npx autoretry` works right
// after `npm ci` with no build step to forget and never runs a stale build.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

// The AWS SDK warns on every run under Node.js 20 that its 2027 releases will need Node.js 22.
// True and harmless here; keep the CLI's output to what the operator asked for.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const source = join(__dirname, 'main.ts');
let main;
if (existsSync(source)) {
  require('tsx/cjs/api').register();
  main = require(source).main;
} else {
  main = require(join(__dirname, '..', 'dist', 'cli', 'main.js')).main;
}
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
