/**
 * Typed errors the core raises. Each carries a stable machine-readable `code`;
 * the HTTP layer maps codes to status codes in one place (functions/shared).
 */
export abstract class CoreError extends Error {
  abstract readonly code: string;
  /** Structured detail for the caller, e.g. the ids that form a cycle. */
  readonly details: readonly unknown[];

  constructor(message: string, details: readonly unknown[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.details = details;
  }
}

/** `depends_on` forms a cycle; `cycle` lists it in order, first id repeated at the end. */
export class DependencyCycleError extends CoreError {
  readonly code = 'DEPENDENCY_CYCLE';
  override readonly name = 'DependencyCycleError';
  constructor(readonly cycle: readonly string[]) {
    super(`dependency cycle: ${cycle.join(' -> ')}`, [{ cycle }]);
  }
}

/** A `depends_on` entry names an id that is not in the batch. */
export class UnknownDependencyError extends CoreError {
  readonly code = 'UNKNOWN_DEPENDENCY';
  override readonly name = 'UnknownDependencyError';
  constructor(
    readonly id: string,
    readonly dependency: string,
  ) {
    super(`${id} depends on ${dependency}, which is not in this batch`, [{ id, dependency }]);
  }
}

/** The same id appears twice where ids must be unique. */
export class DuplicateIdError extends CoreError {
  readonly code = 'DUPLICATE_ID';
  override readonly name = 'DuplicateIdError';
  constructor(readonly id: string) {
    super(`duplicate id: ${id}`, [{ id }]);
  }
}

/** A plan cannot run under its constraints, e.g. a step needs more CPU than the pool holds. */
export class InfeasiblePlanError extends CoreError {
  readonly code = 'INFEASIBLE_PLAN';
  override readonly name = 'InfeasiblePlanError';
  constructor(message: string, details: readonly unknown[] = []) {
    super(message, details);
  }
}

/** A plan step has no agent and none can be found for it. */
export class UnroutablePlanError extends CoreError {
  readonly code = 'UNROUTABLE_PLAN';
  override readonly name = 'UnroutablePlanError';
  constructor(message: string, details: readonly unknown[] = []) {
    super(message, details);
  }
}
