import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support';

interface SandboxOutput {
  notes: string[];
  seconds: number;
  results: { scenario: string; pipeline: string; stage: string; retries: number; outcome: string; timeline: { kind: string }[] }[];
}

async function simulate(args: string[]): Promise<SandboxOutput> {
  const result = await runCli(['simulate', '--json', ...args]);
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as SandboxOutput;
}

describe('Sandbox: autoretry simulate', () => {
  it('plays every scenario to its expected outcome with the project cdk.json', async () => {
    // Act
    const output = await simulate([]);

    // Assess
    expect(output.results.map((r) => [r.scenario, r.pipeline, r.stage, r.retries, r.outcome])).toEqual([
      ['flaky-build', 'web-app', 'Test', 2, 'recovered'],
      ['exhausted', 'api', 'Test', 2, 'exhausted'],
      ['approval-rejected', 'web-app', 'Approve', 0, 'skipped:approval-rejected'],
      ['superseded', 'web-app', 'Test', 0, 'skipped:superseded'],
      ['cooldown', 'web-app', 'Deploy', 1, 'recovered'],
      ['member-account', 'web-app', 'Test', 1, 'recovered'],
      ['provisioning-failure', 'build-fleet', 'Test', 1, 'recovered'],
      ['broken-test', 'cart-service', 'Test', 0, 'skipped:no-retry-rule-match'],
      ['same-tests-failed', 'checkout', 'Test', 1, 'skipped:same-tests-failed'],
    ]);
    const member = output.results.find((r) => r.scenario === 'member-account');
    expect(member?.timeline).toContainEqual(
      expect.objectContaining({ kind: 'note', text: expect.stringContaining('member account 210987654321 (eu-west-1)') }),
    );
    expect(output.notes).toEqual([expect.stringMatching(/^cooldowns shortened to 1s for the simulation: .*web-app\/Deploy 5m/)]);
    expect(output.results.every((r) => r.timeline.some((e) => e.kind === 'decision'))).toBe(true);
  });

  it('shows what a team’s own policies would do', async () => {
    // Prepare: a cdk.json allowing one retry, and observe-only for one pipeline.
    const dir = mkdtempSync(join(tmpdir(), 'autoretry-'));
    const config = join(dir, 'cdk.json');
    writeFileSync(
      config,
      JSON.stringify({ context: { autoRetry: { default: { maxRetries: 1 }, pipelines: { payments: { mode: 'observe' } } } } }),
    );

    // Act
    const strict = await simulate(['--config', config, '--scenario', 'flaky-build']);
    const observed = await simulate(['--config', config, '--scenario', 'flaky-build', '--pipeline', 'payments']);

    // Assess
    expect(strict.results.map((r) => [r.retries, r.outcome])).toEqual([[1, 'exhausted']]);
    expect(observed.results.map((r) => [r.pipeline, r.retries, r.outcome])).toEqual([['payments', 0, 'observed']]);
  });

  it('lists its scenarios', async () => {
    // Act
    const result = await runCli(['simulate', '--list']);

    // Assess
    expect(result.code).toBe(0);
    for (const name of ['flaky-build', 'exhausted', 'approval-rejected', 'superseded', 'cooldown', 'member-account'])
      expect(result.stdout).toContain(name);
  });

  it('refuses a bad configuration with one line naming the key', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'autoretry-'));
    const config = join(dir, 'cdk.json');
    writeFileSync(config, JSON.stringify({ context: { autoRetry: { default: { maxRetries: 99 } } } }));

    // Act
    const result = await runCli(['simulate', '--config', config]);

    // Assess
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('error: autoRetry.default.maxRetries must be an integer from 0 to 10, got 99');
    expect(result.stdout).toBe('');
  });
});
