import type { PolicyPatch } from './policy';

/** Which policy a layer is: the default, a pipeline's or a stage's. */
export type PolicyScope =
  | { readonly kind: 'default' }
  | { readonly kind: 'pipeline'; readonly pipeline: string }
  | { readonly kind: 'stage'; readonly pipeline: string; readonly stage: string };

/** One policy from configuration, to be written to the table. */
export interface PolicySeed {
  readonly scope: PolicyScope;
  readonly patch: PolicyPatch;
}

export function describeScope(scope: PolicyScope): string {
  switch (scope.kind) {
    case 'default':
      return 'the default policy';
    case 'pipeline':
      return `pipeline ${scope.pipeline}`;
    case 'stage':
      return `stage ${scope.pipeline}/${scope.stage}`;
  }
}
