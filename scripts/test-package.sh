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
# First the app without us, then with us: the difference is what a construct user installs for it.
cat > package.json <<JSON
{ "name": "consumer", "private": true, "version": "1.0.0",
  "dependencies": { "aws-cdk-lib": "$CDK_LIB", "constructs": "$CONSTRUCTS" } }
JSON
npm install --prefer-offline --no-audit --no-fund --loglevel=error
# Packages npm installed into the app, not counting those inside ours (bundled, they come in its tarball).
packages() { node -e "console.log(Object.keys(require('./node_modules/.package-lock.json').packages).filter((p) => p !== '' && !p.startsWith('node_modules/codepipeline-auto-retry/')).length)"; }
BEFORE="$(packages)"
npm install --prefer-offline --no-audit --no-fund --loglevel=error "codepipeline-auto-retry@file:$TARBALL"
AFTER="$(packages)"
ADDED=$((AFTER - BEFORE))
OURS="node_modules/codepipeline-auto-retry"
NESTED="$(ls "$OURS/node_modules" | tr '\n' ' ' | sed 's/ $//')"
UNPACKED="$(du -sk "$OURS" | cut -f1)"
CLI_KB="$(du -k "$OURS/dist/cli/main.js" | cut -f1)"
echo "footprint: $ADDED package added to the app (with $NESTED bundled in it), $((UNPACKED / 1024)) MB unpacked, of which the CLI is $((CLI_KB / 1024)) MB"
# The construct brings nothing but itself: the CLI and the functions are bundled inside it.
[ "$ADDED" -eq 1 ] || { echo "FAIL: installing the construct added $ADDED packages, not 1:" >&2; npm ls --all codepipeline-auto-retry >&2; exit 1; }
grep -q "installs one package" "$ROOT/README.md" || { echo "FAIL: README.md does not state the install footprint" >&2; exit 1; }

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
# Bad props: `cdk synth` prints one line naming the prop, no stack trace, and fails.
sed 's/watchedPipelines: \[.web-app.\],/watchedPipelines: ["web-app"], defaultPolicy: { maxRetries: 99 },/' app.js > bad.js
grep -q 'maxRetries: 99' bad.js || { echo "FAIL: could not write the bad-props app" >&2; exit 1; }
if "$ROOT/node_modules/.bin/cdk" synth --app 'node bad.js' --quiet > bad.log 2>&1; then echo "FAIL: synth passed with bad props" >&2; exit 1; fi
grep -Eq '^(ERROR |\[Error at /Consumer/AutoRetry\] )props\.defaultPolicy\.maxRetries must be an integer from 0 to 10, got 99' bad.log \
  || { echo "FAIL: bad props not reported in one line" >&2; cat bad.log >&2; exit 1; }
if grep -q '^ *at ' bad.log; then echo "FAIL: a stack trace for bad props" >&2; cat bad.log >&2; exit 1; fi
echo "bad props: one line, $(grep -Ec '^ERROR|Error at' bad.log) error, synth failed"
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
# The sandbox from the installed package, with nothing else installed: a played failure is in history.
# The installed bin itself, not through npx: $! is then the sandbox's own process, which kill ends
# (killing npx left its child serving after the script ended).
./node_modules/.bin/autoretry sandbox --play flaky-build > sandbox.log 2>&1 &
SANDBOX=$!
trap 'kill "$SANDBOX" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do grep -q '^export TABLE_NAME' sandbox.log && break; sleep 0.2; done
grep -q '^export TABLE_NAME' sandbox.log || { echo "FAIL: the sandbox did not start" >&2; cat sandbox.log >&2; exit 1; }
( eval "$(grep '^export' sandbox.log)" && npx --no-install autoretry history web-app ) > history.log 2>&1 \
  || { echo "FAIL: history against the sandbox" >&2; cat history.log >&2; exit 1; }
kill "$SANDBOX"
wait "$SANDBOX" 2>/dev/null || true
grep -q 'retried' history.log || { echo "FAIL: history does not show the played failure" >&2; cat history.log >&2; exit 1; }
echo "cli: sandbox --play flaky-build, then history shows $(grep -c retried history.log) retries"
echo "package test: ok"
