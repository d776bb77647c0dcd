import { ACCOUNT_PATTERN } from '../contract';
import { isObject, pipelineKeyProblem, stageKeyProblem, unknownKeyProblems } from './checks';
import { InvalidInputError } from './errors';
import { POLICY_FIELDS, type PolicyPatch, type PolicySyntax, validatePolicyPatch } from './policy';
import { type PolicySeed, parsePolicyTarget } from './scope';
import { keyPath, show } from './show';

/**
 * The policies of a deployment as its configuration nests them: a default, account defaults
 * keyed by account id, and pipeline policies keyed by `<pipeline>` or `<account>/<pipeline>`,
 * each with its stages. cdk.json (policy/config.ts) and the construct's props (lib/) both nest
 * them so; this reads either into the seeds the deploy writes, checked once, the same way.
 */
export interface PolicyTree {
  /** Where the tree sits, for messages: `autoRetry` (cdk.json) or `props`. */
  readonly path: string;
  /** The key of the default policy: `default` in cdk.json, `defaultPolicy` in props. */
  readonly defaultKey: string;
  readonly default?: unknown;
  readonly accounts?: unknown;
  readonly pipelines?: unknown;
  /** The watched pipelines and the key that names them (for "has a policy but is not watched"); undefined: every pipeline. */
  readonly watched?: { readonly names: readonly string[]; readonly key: string } | undefined;
}

/** How a source spells its policies. */
export interface TreeSpelling {
  /** How one policy is spelled, its keys named (`cooldown` for `cooldownSeconds`). */
  readonly syntax: PolicySyntax & Required<Pick<PolicySyntax, 'keyOf'>>;
  /**
   * `strict` (cdk.json, hand-written JSON): every key is checked against the ones allowed there,
   * so a budget on a stage is an unknown setting. `typed` (props, whose keys the compiler
   * checks): a budget on a stage or an account is named as belonging to a pipeline.
   */
  readonly keys: 'strict' | 'typed';
}

/** The seeds of a policy tree and every problem in it, each naming its key path. */
export function collectPolicies(tree: PolicyTree, spelling: TreeSpelling): { seeds: PolicySeed[]; problems: string[] } {
  const problems: string[] = [];
  const seeds: PolicySeed[] = [];
  const policyKeys = fieldKeys(spelling);
  const withoutBudget = policyKeys.filter((k) => k !== spelling.syntax.keyOf('budget'));
  const { path } = tree;

  /** Validates one policy; seeds it when it is valid and says anything. */
  const add = (value: unknown, where: string, allowed: readonly string[], seed: (patch: PolicyPatch) => PolicySeed): void => {
    if (!isObject(value)) {
      problems.push(`${where} must be an object, got ${show(value)}`);
      return;
    }
    if (spelling.keys === 'strict') problems.push(...unknownKeyProblems(value, allowed, where));
    const { patch, problems: found } = validatePolicyPatch(value, where, spelling.syntax);
    problems.push(...found);
    if (found.length === 0 && Object.keys(patch).length > 0) seeds.push(seed(patch));
  };
  /** A budget where only a pipeline may have one (typed sources; strict ones report it as an unknown key). */
  const budgetHere = (value: unknown, where: string, whose: string): boolean => {
    if (spelling.keys !== 'typed' || !isObject(value) || value[spelling.syntax.keyOf('budget')] === undefined) return false;
    problems.push(`${where}.${spelling.syntax.keyOf('budget')} is per pipeline: set it on ${whose} policy`);
    return true;
  };
  const map = (value: unknown, where: string, keyedBy: string): Record<string, unknown> | undefined => {
    if (value === undefined) return undefined;
    if (isObject(value)) return value;
    problems.push(`${where} must be an object keyed by ${keyedBy}, got ${show(value)}`);
    return undefined;
  };

  if (tree.default !== undefined) {
    add(tree.default, `${path}.${tree.defaultKey}`, policyKeys, (patch) => ({ scope: { kind: 'default' }, patch }));
  }

  const accounts = map(tree.accounts, `${path}.accounts`, '12-digit account id');
  for (const [account, value] of Object.entries(accounts ?? {})) {
    const where = keyPath(`${path}.accounts`, account);
    if (!ACCOUNT_PATTERN.test(account)) {
      problems.push(`${where} is not a 12-digit account id`);
      continue;
    }
    budgetHere(value, where, "a pipeline's");
    add(value, where, withoutBudget, (patch) => ({ scope: { kind: 'account', account }, patch }));
  }

  const pipelines = map(tree.pipelines, `${path}.pipelines`, 'pipeline name');
  for (const [key, value] of Object.entries(pipelines ?? {})) {
    const where = keyPath(`${path}.pipelines`, key);
    const target = pipelineTargetOf(key, where, problems);
    if (!target) continue;
    const { pipeline, account } = target;
    if (tree.watched && !tree.watched.names.includes(pipeline)) {
      problems.push(`${where} has a policy but ${pipeline} is not in ${path}.${tree.watched.key}, so it would never be retried`);
    }
    const { stages, ...own } = isObject(value) ? value : { stages: undefined };
    add(isObject(value) ? own : value, where, [...policyKeys, 'stages'], (patch) => ({
      scope: { kind: 'pipeline', pipeline, account },
      patch,
    }));
    const stageMap = map(stages, `${where}.stages`, 'stage name');
    for (const [stage, stageValue] of Object.entries(stageMap ?? {})) {
      const stageWhere = keyPath(`${where}.stages`, stage);
      const stageProblem = stageKeyProblem(stage, stageWhere);
      if (stageProblem) {
        problems.push(stageProblem);
        continue;
      }
      // A budget is per pipeline: a stage cannot have its own.
      budgetHere(stageValue, stageWhere, "the pipeline's");
      add(stageValue, stageWhere, withoutBudget, (patch) => ({ scope: { kind: 'stage', pipeline, stage, account }, patch }));
    }
  }
  return { seeds, problems };
}

/** The keys a policy may have in a source, in the order messages list them. */
function fieldKeys(spelling: TreeSpelling): string[] {
  return POLICY_FIELDS.map((field) => spelling.syntax.keyOf(field));
}

/** A `pipelines` key: a pipeline in every account, or `<account>/<pipeline>`. */
function pipelineTargetOf(key: string, where: string, problems: string[]): { pipeline: string; account?: string | undefined } | undefined {
  const keyProblem = key.includes('/') ? undefined : pipelineKeyProblem(key, where);
  if (keyProblem) {
    problems.push(keyProblem);
    return undefined;
  }
  try {
    const target = parsePolicyTarget(key, where);
    if (target.pipeline === undefined) {
      problems.push(`${where}: an account's defaults go under accounts, keyed by the account id`);
      return undefined;
    }
    return target;
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    problems.push(error.message);
    return undefined;
  }
}
