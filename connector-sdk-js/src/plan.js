// Sync plans: what `seed` returns. Groups of steps run one after the other; a group's steps run
// concurrently.

/** What a step applies to. */
export const Target = Object.freeze({
  /** Every root entity. */
  ROOT: Object.freeze({ tag: 'root' }),
  /** Every entity of this type known when the step runs. */
  all: (entity) => ({ tag: 'all', val: entity }),
  /** One entity. */
  one: (entity, id) => ({ tag: 'one', val: { entity, id } }),
});

/** What a step does. */
export const Operation = Object.freeze({
  /** Fill these fields through their resolvers' loaders. */
  fields: (fields) => ({ tag: 'load-fields', val: [...fields] }),
  /** Load every page of this collection field. */
  collection: (field) => ({ tag: 'load-collection', val: field }),
  /** Drain this change-feed loader from its stored cursor. */
  changes: (loader) => ({ tag: 'follow-changes', val: loader }),
});

/** Ordered groups of steps. */
export class SyncPlan {
  constructor() { this.groups = []; }
  /** A group of one step, after every earlier group. */
  then(target, operation) { this.groups.push([{ target, operation }]); return this; }
  /** A group of `[target, operation]` steps that run concurrently, after every earlier group. */
  together(steps) { this.groups.push(steps.map(([target, operation]) => ({ target, operation }))); return this; }
}

/** What the host knows when it asks for a plan. */
export class SeedState {
  constructor({ lastCompletedSync, cursors = [], full = false }) {
    this.lastCompletedSync = lastCompletedSync ?? undefined;
    this.cursors = cursors;
    this.full = full;
  }
  /** The cursor an earlier sync stored for change-feed `loader`. */
  cursor(loader) { const found = this.cursors.find(([name]) => name === loader); return found ? found[1] : undefined; }
}
