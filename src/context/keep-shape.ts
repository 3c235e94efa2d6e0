// V8 gives each class its instance layout (a hidden class, or "map") as the constructor adds
// fields, one map per added field, and holds those maps only weakly, through the transitions from
// the constructor's first map. A full garbage collection that finds no live instance of a class
// frees its maps, and every optimized function compiled against them is thrown away ("marking
// dependent code for deoptimization, reason: weak objects" in `node --trace-deopt`). The next
// instances build fresh maps and the hot path runs unoptimized until V8 compiles it again.
//
// That happens to exactly the objects a hot path makes and drops: a channel waiter, a blocked
// select, a task. bench/task.bench.ts runs a gc() before each case, and without the kept instances
// its unbuffered hand-off case ran at about twice the cost it has with them (README, Performance).
// One instance of each such class, kept for the life of the process, keeps its maps and the code
// compiled against them; test/task/shapes.test.ts checks it under --trace-deopt.

const kept: object[] = [];

/**
 * @internal
 * keepShape keeps `instance` reachable for the life of the process, and with it the maps its
 * constructor built (see above). Call it once per class, at module load, with an instance made by
 * the class's own constructor, on the class of an object the hot path allocates and drops. It
 * costs the one instance.
 */
export function keepShape(instance: object): void {
  kept.push(instance);
}
