import type { Command } from 'commander';
import { InvalidInputError } from '../../policy/errors';
import { parsePolicyTarget } from '../../policy/scope';
import { type CommandContext, subcommand } from '../context';

/** `autoretry pause|resume`: the per-pipeline, per-account and global switches. */
export function registerPauseCommands(program: Command, ctx: CommandContext): void {
  for (const [verb, paused, text] of [
    ['pause', true, 'stop automatic retries of a pipeline, or of all pipelines with --all'],
    ['resume', false, 'resume automatic retries of a pipeline, or lift the --all switch'],
  ] as const) {
    subcommand(program, verb)
      .description(text)
      .argument('[target]', 'pipeline name (every account), <account>/<pipeline>, or account:<account>')
      .option('--all', 'every pipeline in every account: the kill switch')
      .addHelpText('after', `\nExamples:\n  autoretry ${verb} web-app\n  autoretry ${verb} account:111122223333\n  autoretry ${verb} --all`)
      .action(async (pipeline: string | undefined, opts: { all?: boolean }) => {
        if (opts.all && pipeline) throw new InvalidInputError(`give either a pipeline or --all, not both`);
        if (!opts.all && !pipeline) throw new InvalidInputError(`missing pipeline: autoretry ${verb} <pipeline> or --all`);
        // Checked here, before the audit identity is asked for; a valid target is its own switch name.
        if (pipeline) parsePolicyTarget(pipeline, 'pipeline');
        const target = opts.all || !pipeline ? '*' : pipeline;
        const what = opts.all ? 'ALL pipelines' : target;
        const admin = await ctx.services.policies();
        if (paused) {
          await admin.pause(target, { updatedBy: await ctx.by(), now: ctx.io.now() });
          ctx.io.out(`paused automatic retries of ${what}`);
        } else if (await admin.resume(target)) {
          ctx.io.out(`resumed automatic retries of ${what}`);
        } else {
          ctx.io.out(`${what} was not paused${opts.all ? ' by the --all switch' : ''}: nothing to resume`);
        }
      });
  }
}
