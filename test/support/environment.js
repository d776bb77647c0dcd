// @ts-check
/**
 * The test environment of every suite: Node's, with two guarantees added so that a suite always
 * ends, pass or fail, however slow or busy the machine is.
 *
 * - A time limit per test file (TEST_FILE_LIMIT_SECONDS, default 240; a file that needs more
 *   says so with a `@fileLimitSeconds N` docblock pragma). Every test and hook that starts gets
 *   at most the time the file has left, so no file runs past its limit; one that reaches it
 *   fails with a message naming the limit, not with a bare timeout. afterAll and afterEach hooks
 *   get a short grace beyond it, so the local services are still closed.
 * - Nothing left open: once the file is done, every timer it set and every socket, server and
 *   child process it opened must be gone (sockets and servers get a short grace to finish
 *   closing). Anything left fails the file with its name (and is then closed, so it cannot hang
 *   the run); TEST_HANDLE_STACKS=1 adds where each leftover timer was set.
 */
const { relative } = require('node:path');
const NodeEnvironment = require('jest-environment-node').TestEnvironment;

const DEFAULT_LIMIT_SECONDS = 240;
/** Teardown hooks may run this long past the file's limit: they close what the file opened. */
const TEARDOWN_GRACE_MS = 30_000;
/** How long closed sockets and servers get to go away before they count as left open. */
const CLOSE_GRACE_MS = 3_000;
/**
 * The sockets, servers and child processes keeping the process alive now (timers are tracked
 * one by one instead). Node has no public list of them; this one has been there since Node 0.x.
 */
function openHandles() {
  const handles = /** @type {{ _getActiveHandles(): unknown[] }} */ (/** @type {unknown} */ (process))._getActiveHandles();
  return handles.filter((h) => h?.constructor?.name !== 'Timeout');
}

/** A handle as a person would name it: "Server 127.0.0.1:4567", "Socket → 127.0.0.1:4567", "ChildProcess 1234". */
function describeHandle(h) {
  const kind = h?.constructor?.name ?? 'handle';
  if (kind === 'Server') return `Server ${h.address?.()?.port ?? ''}`.trim();
  if (kind === 'Socket') return `Socket → ${h.remoteAddress ?? '?'}:${h.remotePort ?? '?'}`;
  if (kind === 'ChildProcess') return `ChildProcess ${h.pid ?? ''} (${h.spawnfile ?? ''})`;
  return kind;
}

/** Closes a leftover handle so that it cannot keep the worker alive after it was reported. */
function close(h) {
  if (typeof h?.kill === 'function') h.kill('SIGKILL');
  else if (typeof h?.destroy === 'function') h.destroy();
  else if (typeof h?.close === 'function') h.close();
  h?.unref?.();
}

/** A file's docblock pragma as a positive number, if it has one. */
function pragmaSeconds(pragmas, name) {
  const raw = pragmas?.[name];
  const value = Number(Array.isArray(raw) ? raw[0] : raw);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

class BoundedEnvironment extends NodeEnvironment {
  constructor(config, context) {
    super(config, context);
    this.file = relative(config.projectConfig.rootDir, context.testPath);
    const fromEnv = Number(process.env.TEST_FILE_LIMIT_SECONDS);
    const base = Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : DEFAULT_LIMIT_SECONDS;
    const own = pragmaSeconds(context.docblockPragmas, 'fileLimitSeconds');
    this.limitMs = Math.max(own ?? 0, base) * 1000;
    this.reported = false;
    /** Timers the file set that have neither fired nor been cleared, with where they were set. */
    this.timers = new Map();
    this.stacks = process.env.TEST_HANDLE_STACKS === '1';
    this.trackTimers();
  }

  /** Wraps the file's timer functions so that a timer still pending at the end can be named. */
  trackTimers() {
    const g = this.global;
    const timers = this.timers;
    const where = () => (this.stacks ? (new Error().stack ?? '').split('\n').slice(3, 9).join('\n') : '');
    for (const [set, clear, once] of [
      ['setTimeout', 'clearTimeout', true],
      ['setInterval', 'clearInterval', false],
    ]) {
      const realSet = g[set];
      const realClear = g[clear];
      const wrapped = (callback, ...rest) => {
        if (typeof callback !== 'function') return realSet(callback, ...rest);
        const timer = realSet(
          function (...args) {
            if (once) timers.delete(timer);
            return callback.apply(this, args);
          },
          ...rest,
        );
        timers.set(timer, { kind: set, stack: where() });
        return timer;
      };
      Object.assign(wrapped, realSet);
      g[set] = wrapped;
      g[clear] = (timer) => {
        timers.delete(timer);
        realClear(timer);
      };
    }
  }

  async setup() {
    await super.setup();
    this.baseline = new Set(openHandles());
    this.deadline = Date.now() + this.limitMs;
  }

  /** Jest awaits this before it reads a test's or hook's timeout: the place to cap it. */
  async handleTestEvent(event, state) {
    const left = this.deadline - Date.now();
    if (event.name === 'test_fn_start') {
      const own = event.test.timeout || state.testTimeout;
      event.test.timeout = Math.max(1, Math.min(own, left));
    } else if (event.name === 'hook_start') {
      const own = event.hook.timeout || state.testTimeout;
      const teardown = event.hook.type === 'afterAll' || event.hook.type === 'afterEach';
      event.hook.timeout = Math.max(1, Math.min(own, left + (teardown ? TEARDOWN_GRACE_MS : 0)));
    } else if ((event.name === 'test_fn_failure' || event.name === 'hook_failure') && left <= 0 && !this.reported) {
      this.reported = true;
      state.unhandledErrors.push(
        new Error(
          `${this.file} ran past its time limit of ${this.limitMs / 1000} s, and the test or hook then running was stopped. ` +
            "Raise TEST_FILE_LIMIT_SECONDS (or the file's @fileLimitSeconds) only for a machine known to be this slow.",
        ),
      );
    }
  }

  /** The file's timers that are still pending and would keep the process alive. */
  pendingTimers() {
    return [...this.timers].filter(([timer]) => typeof timer?.hasRef !== 'function' || timer.hasRef()).map(([, origin]) => origin);
  }

  /** Sockets, servers and child processes opened since the file started, still open. */
  newHandles() {
    return openHandles().filter((h) => !this.baseline.has(h));
  }

  /** What is still open beyond the baseline, as "1 × setTimeout, 2 × TCPSocketWrap"; empty when nothing is. */
  leftovers() {
    const found = new Map();
    for (const { kind } of this.pendingTimers()) found.set(kind, (found.get(kind) ?? 0) + 1);
    for (const h of this.newHandles()) found.set(describeHandle(h), (found.get(describeHandle(h)) ?? 0) + 1);
    return [...found].map(([kind, count]) => `${count} × ${kind}`).join(', ');
  }

  async teardown() {
    const until = Date.now() + CLOSE_GRACE_MS;
    let left = this.leftovers();
    while (left && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      left = this.leftovers();
    }
    const where = this.stacks
      ? this.pendingTimers()
          .map((t) => `${t.kind}\n${t.stack}`)
          .join('\n---\n')
      : '';
    // Nothing of the file's may keep the worker alive once it has been reported.
    for (const timer of this.timers.keys()) timer?.unref?.();
    for (const h of this.newHandles()) close(h);
    await super.teardown();
    if (left) {
      throw new Error(
        `${this.file} left open: ${left}. Close every server, client, child process and timer a test starts` +
          (where ? `; the timers were set at:\n${where}` : ' (TEST_HANDLE_STACKS=1 shows where each timer was set).'),
      );
    }
  }
}

module.exports = BoundedEnvironment;
