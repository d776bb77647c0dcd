#!/usr/bin/env node
'use strict';
// Launcher: runs the TypeScript CLI through tsx, so `npx autoretry` works right after `npm ci`
// with no build step to forget.

// The AWS SDK warns on every run under Node.js 20 that its 2027 releases will need Node.js 22.
// True and harmless here; keep the CLI's output to what the operator asked for.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

require('tsx/cjs/api').register();
require('./main.ts')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
