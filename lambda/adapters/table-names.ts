import { type Location, scopedPipeline, type TableKey, TableKeys } from '../../contract';
import type { LedgerKey } from '../domain/ledger';
import type { PipelineRef } from '../domain/refs';

/**
 * How this deployment names a pipeline in its table: the pipelines of its own account and region
 * (`home`; every pipeline of a single-account deployment, which has none) keep their bare name, so
 * existing ledgers and budgets read on unchanged, and a member's is `<account>/<region>/<name>`.
 * Built once, in lambda/dependencies.ts, and handed to every adapter that forms a table key or
 * tells the deployment's own account and region from a member's.
 */
export class TableNames {
  /** The shared request rate's scope in the deployment's own account and region. */
  public readonly homeRateScope = 'home';

  public constructor(
    /** The central stack's account and region. @default none: a single-account deployment */
    private readonly home: Location | undefined,
  ) {}

  /** The deployment's own account and region: every location, in a single-account deployment. */
  public isHome(at: Location): boolean {
    return !this.home || (at.account === this.home.account && at.region === this.home.region);
  }

  /** The pipeline's name in table keys (see scopedPipeline); a key without a location is the bare name. */
  public pipeline(ref: Omit<PipelineRef, 'account' | 'region'> & Partial<Location>): string {
    return scopedPipeline(ref, ref.pipeline, this.home);
  }

  /** The ledger record of one stage execution. */
  public ledger(key: LedgerKey): TableKey {
    return TableKeys.ledger(this.pipeline(key), key.stage, key.executionId);
  }

  /** A pipeline's budget item. */
  public budget(ref: PipelineRef): TableKey {
    return TableKeys.budget(this.pipeline(ref));
  }

  /** The shared request rate's scope in an account and region. */
  public rateScope(at: Location): string {
    return this.isHome(at) ? this.homeRateScope : `${at.account}/${at.region}`;
  }
}
