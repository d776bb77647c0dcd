#!/usr/bin/env bash
# The package as a user gets it: `npm pack`, installed into a scratch CDK app outside this
# repository, a stack that uses the construct from the package root synthesized (JavaScript and
# TypeScript), and the installed CLI's --version and one offline command run.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT"

TARBALL="$WORK/$(npm pack --silent --pack-destination "$WORK" | tail -n 1)"
VERSION="$(node -p "require('./package.json').version")"
CDK_LIB="$(node -p "require('aws-cdk-lib/package.json').version")"
CONSTRUCTS="$(node -p "require('constructs/package.json').version")"
echo "package: $(basename "$TARBALL") ($(du -h "$TARBALL" | cut -f1))"
# Our own sources only: the bundled dependencies (node_modules/, which jsii needs) are as their authors publish them.
if tar -tzf "$TARBALL" | grep -v '^package/node_modules/' | grep -E '\.ts$' | grep -v '\.d\.ts$'; then echo "FAIL: TypeScript sources in the package" >&2; exit 1; fi
tar -xzOf "$TARBALL" package/.jsii | node -e "const a = JSON.parse(require('fs').readFileSync(0, 'utf8')); if (!a.types['codepipeline-auto-retry.PipelineAutoRetry']) { console.error('FAIL: .jsii without PipelineAutoRetry'); process.exit(1); }" \
  || { echo "FAIL: no jsii assembly (.jsii) in the package" >&2; exit 1; }
echo "jsii assembly: in the package"

APP="$WORK/consumer"
mkdir -p "$APP"
cd "$APP"
cat > package.json <<JSON
{ "name": "consumer", "private": true, "version": "1.0.0",
  "dependencies": { "codepipeline-auto-retry": "file:$TARBALL", "aws-cdk-lib": "$CDK_LIB", "constructs": "$CONSTRUCTS" } }
JSON
npm install --prefer-offline --no-audit --no-fund --loglevel=error

cat > app.js <<'JS'
const { App, Stack } = require('aws-cdk-lib');
const { PipelineAutoRetry, StageRetryMode } = require('codepipeline-auto-retry');
const app = new App({ outdir: 'cdk.out' });
const stack = new Stack(app, 'Consumer', { env: { account: '123456789012', region: 'eu-west-1' } });
new PipelineAutoRetry(stack, 'AutoRetry', {
  watchedPipelines: ['web-app'],
  pipelines: { 'web-app': { stages: { Deploy: { retryMode: StageRetryMode.ALL_ACTIONS } } } },
});
app.synth();
JS
cat > app.ts <<'TS'
import { App, Duration, Stack } from 'aws-cdk-lib';
import { PipelineAutoRetry, type PipelineAutoRetryProps, RetryJitter } from 'codepipeline-auto-retry';
const props: PipelineAutoRetryProps = { defaultPolicy: { maxRetries: 2, cooldown: Duration.minutes(1), jitter: RetryJitter.SPREAD } };
new PipelineAutoRetry(new Stack(new App(), 'Typed'), 'AutoRetry', props);
TS
node "$ROOT/node_modules/typescript/bin/tsc" --noEmit --strict --skipLibCheck --module commonjs --moduleResolution node --target es2022 app.ts
node app.js
TEMPLATE="cdk.out/Consumer.template.json"
node -e "
const t = require('./$TEMPLATE');
const fns = Object.values(t.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
const handlers = fns.map((f) => f.Properties.Handler).sort();
if (!handlers.includes('index.handler') || !handlers.includes('index.onEvent')) { console.error('FAIL: handlers', handlers); process.exit(1); }
const assets = require('fs').readdirSync('cdk.out').filter((d) => d.startsWith('asset.'));
const bundled = assets.filter((d) => require('fs').existsSync('cdk.out/' + d + '/index.mjs'));
if (bundled.length < 2) { console.error('FAIL: pre-built function assets', assets); process.exit(1); }
const described = Object.values(t.Outputs || {}).filter((o) => o.Description === 'codepipeline-auto-retry table (autoretry --table)');
if (described.length !== 1) { console.error('FAIL: the construct has no table output for the CLI', t.Outputs); process.exit(1); }
console.log('synth: ok (' + fns.length + ' functions, ' + bundled.length + ' pre-built assets, the table as an output)');
"
[ -e node_modules/esbuild ] && { echo "FAIL: esbuild was installed for the consumer" >&2; exit 1; }

# The shipped bundle runs as Lambda's runtime loads it: imported as an ES module, handler called.
BUNDLE="node_modules/codepipeline-auto-retry/dist/assets/retry-function/index.mjs"
TABLE_NAME=t RETRY_QUEUE_URL=http://127.0.0.1:9/q AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x \
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true node --input-type=module -e "
const { handler } = await import('./$BUNDLE');
const answer = await handler({ 'detail-type': 'not ours' });
if (answer !== undefined) { console.error('FAIL: bundle answered', answer); process.exit(1); }
// The clients loaded on first use (STS for member accounts, SNS for notices) are chunks beside it that resolve.
const { readdirSync } = await import('node:fs');
const chunks = new URL('./chunks/', import.meta.resolve('./$BUNDLE'));
for (const name of ['sts-assume-role', 'sns-publisher']) {
  const file = readdirSync(chunks).find((f) => f.startsWith(name + '-') && f.endsWith('.mjs'));
  if (!file) { console.error('FAIL: no chunk for', name); process.exit(1); }
  await import(new URL(file, chunks).href);
}
" > bundle.log 2>&1
grep -q 'malformed event' bundle.log || { echo "FAIL: the bundled handler did not run" >&2; cat bundle.log >&2; exit 1; }
echo "bundle: imports and runs as an ES module, its chunks resolve"

GOT="$(npx --no-install autoretry --version)"
[ "$GOT" = "$VERSION" ] || { echo "FAIL: autoretry --version printed '$GOT', not $VERSION" >&2; exit 1; }
echo "cli: --version ok ($GOT)"
npx --no-install autoretry simulate --scenario exhausted --json > simulate.json
node -e "const r = require('./simulate.json').results[0]; if (r.outcome !== 'exhausted') { console.error('FAIL: simulate', r); process.exit(1); } console.log('cli: simulate ok (' + r.retries + ' retries, ' + r.outcome + ')');"
echo "package test: ok"
