#!/usr/bin/env node
'use strict';
// Launcher: runs the TypeScript CLI through tsx, so `npx autoretry` works right after `npm ci`
// with no build step to forget.
require('tsx/cjs/api').register();
require('./main.ts')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
