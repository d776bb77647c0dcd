import { ACCOUNT_PATTERN, parseScopedPipeline, REGION_PATTERN } from '../contract';
import { InvalidInputError } from '../policy/errors';
import { NAME_PATTERN } from '../policy/policy';

/** Reads a pipeline as the CLI's ledger commands take it; throws naming what is wrong. */
export function parsePipelineLabel(text: string, what: string): string {
  const { account, region, pipeline } = parseScopedPipeline(text);
  const ok = NAME_PATTERN.test(pipeline) && (account === undefined || (ACCOUNT_PATTERN.test(account) && REGION_PATTERN.test(region ?? '')));
  if (!ok) {
    throw new InvalidInputError(
      `${what} ${JSON.stringify(text.slice(0, 120))} is not a valid CodePipeline name, nor <account>/<region>/<pipeline> for a member account's`,
    );
  }
  return text;
}
