'use strict';
// The CLI bundle's stand-in for `level` (leveldb on disk, a native binding): dynalite loads it
// when it starts, but the sandbox and the simulation run dynalite in memory (memory-level), so
// it is never constructed. Bundling the real one would need its binary beside the bundle.
class Level {
  constructor() {
    throw new Error('autoretry runs its local DynamoDB in memory only; an on-disk store is not bundled');
  }
}
module.exports = { Level };
