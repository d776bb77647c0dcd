import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { readConfigOrThrow } from '../../policy/config';
import { InvalidInputError } from '../../policy/errors';
import { type CommandContext, pipelineName, subcommand } from '../context';
import { colourOf } from '../format';

/** The configuration to play when none is named: ./cdk.json, if there is one. */
export function defaultConfigPath(): string | undefined {
  const here = join(process.cwd(), 'cdk.json');
  return existsSync(here) ? here : undefined;
}

/** Reads an autoRetry block from a cdk.json (its context.autoRetry) or a bare autoRetry JSON file. */
export function loadConfig(path: string): unknown {
  if (!existsSync(path)) throw new InvalidInputError(`--config: no such file ${path}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new InvalidInputError(`--config: ${path} is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const obj = raw as { context?: { autoRetry?: unknown } };
  return obj && typeof obj === 'object' && 'context' in obj ? obj.context?.autoRetry : raw;
}

const SIMULATION_STAGES = ['Source', 'Test', 'Approve', 'Deploy'];

/** `autoretry simulate`: scripted pipelines through the real handler, locally. */
export function registerSimulateCommand(program: Command, ctx: CommandContext): void {
  const { io, style } = ctx;
  subcommand(program, 'simulate')
    .description('run scripted pipelines through the real handler locally (dynalite + emulators), with your policies')
    .option('--scenario <name>', 'run one scenario (see --list)')
    .option('--list', 'list the scenarios')
    .option(
      '--config <path>',
      'cdk.json (or a bare autoRetry JSON file) whose policies to play (default: ./cdk.json, else the built-in policy)',
    )
    .option('--pipeline <name>', 'play the scenarios as this pipeline, so its policy applies')
    .option('--stage <name>', 'play the scenarios on this stage (Source, Test, Approve, Deploy)')
    .option('--json', 'print machine-readable results')
    .addHelpText(
      'after',
      '\nExamples:\n  autoretry simulate\n  autoretry simulate --scenario flaky-build --json\n  autoretry simulate --config ../my-app/cdk.json --pipeline payments',
    )
    .action(async (opts: { scenario?: string; list?: boolean; config?: string; pipeline?: string; stage?: string; json?: boolean }) => {
      // Loaded on demand: the simulation pulls in dynalite and the emulators.
      const { SCENARIOS, runSimulation } = require('../../local/simulation') as typeof import('../../local/simulation');
      if (opts.list) {
        if (opts.json) return ctx.json(SCENARIOS.map((s) => ({ name: s.name, title: s.title, pipeline: s.pipeline, stage: s.stage })));
        ctx.printTable(
          ['SCENARIO', 'PLAYS', 'WHAT IT SHOWS'],
          SCENARIOS.map((s) => [s.name, `${s.pipeline}/${s.stage}`, s.title]),
        );
        return;
      }
      const chosen = opts.scenario ? SCENARIOS.filter((s) => s.name === opts.scenario) : SCENARIOS;
      if (chosen.length === 0) {
        throw new InvalidInputError(`--scenario: no scenario "${opts.scenario}"; one of ${SCENARIOS.map((s) => s.name).join(', ')}`);
      }
      if (opts.pipeline) pipelineName(opts.pipeline, '--pipeline');
      if (opts.stage && !SIMULATION_STAGES.includes(opts.stage)) {
        throw new InvalidInputError(
          `--stage must be one of ${SIMULATION_STAGES.join(', ')} (the simulated pipeline's stages), got "${opts.stage}"`,
        );
      }
      const configPath = opts.config ? resolve(opts.config) : defaultConfigPath();
      const shown = configPath ? relative(process.cwd(), configPath) || configPath : 'the built-in policy (no ./cdk.json)';
      // Fails on a bad configuration before printing anything.
      const { seeds: policies } = readConfigOrThrow(configPath ? loadConfig(configPath) : undefined);
      const notes: string[] = [];
      const text = !opts.json;
      if (text) io.out(style.paint(`codepipeline-auto-retry simulate: ${chosen.length} scenario(s), policies from ${shown}`, 'bold'));
      const started = Date.now();
      const results = await runSimulation(chosen, {
        policies,
        pipeline: opts.pipeline,
        stage: opts.stage,
        onNote: (note) => {
          notes.push(note);
          if (text) io.out(style.paint(`note: ${note}`, 'dim'));
        },
        onScenario: (s, target) => {
          if (text) io.out(`\n${style.paint(`▶ ${s.name}`, 'bold')}: ${s.title}  (${target.pipeline}/${target.stage})`);
        },
        onEntry: (e) => {
          if (!text) return;
          const mark = { failed: '✖', decision: '→', 'retry-started': '↻', succeeded: '✔', note: '·' }[e.kind];
          const colour = { failed: 'red', decision: undefined, 'retry-started': 'yellow', succeeded: 'green', note: 'dim' } as const;
          io.out(`  ${`${e.t.toFixed(1)}s`.padStart(6)}  ${style.paint(`${mark} ${e.text}`, colour[e.kind])}`);
        },
      });
      const seconds = (Date.now() - started) / 1000;
      if (opts.json) return ctx.json({ config: shown, notes, seconds, results });
      io.out(`\n${style.paint('Summary', 'bold')} (${seconds.toFixed(1)} s)`);
      ctx.printTable(
        ['SCENARIO', 'PIPELINE', 'STAGE', 'RETRIES', 'OUTCOME'],
        results.map((r) => [
          r.scenario,
          r.pipeline,
          r.stage,
          String(r.retries),
          { text: r.outcome, colour: colourOf(r.outcome.split(':')[0] ?? '') },
        ]),
      );
    });
}
