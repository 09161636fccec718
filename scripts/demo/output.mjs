// How the demo talks: numbered steps that say what happens and why it matters, commands printed
// like a shell transcript before they run, and the live streams (events, the guest's console)
// marked so a newcomer can tell who says what. Plain lines, no colours: the demo also runs with
// no terminal (CI, a test), and then the output must read the same.
const write = (s) => process.stdout.write(`${s}\n`);
const indent = (prefix, text) => {
  for (const line of text.replace(/\n+$/, '').split('\n')) write(`${prefix}${line}`);
};

export class Output {
  constructor(steps) {
    this.steps = steps;
  }

  title(text) {
    write(text);
  }

  /** `[n/N] title`, then the why, indented */
  step(n, title, why) {
    write(`\n[${n}/${this.steps}] ${title}`);
    indent('      ', why);
  }

  say(text) {
    indent('      ', text);
  }

  command(line) {
    write(`  $ ${line}`);
  }

  output(text) {
    if (text.replace(/\s+/g, '') !== '') indent('    ', text);
  }

  event(text) {
    write(`  event  ${text}`);
  }

  guest(line) {
    write(`  guest| ${line}`);
  }
}

/**
 * Things that arrive on their own (events, console lines) and the steps that wait for them: each
 * wait names what it waits for, so a timeout says what did not happen.
 */
export class Arrivals {
  constructor() {
    this.items = [];
    this.waiters = new Set();
    this.failure = undefined;
  }

  push(item) {
    this.items.push(item);
    for (const w of [...this.waiters]) w();
  }

  /** Makes every wait, current and future, fail with `error` (the console ended, the guest failed). */
  fail(error) {
    this.failure ??= error;
    for (const w of [...this.waiters]) w();
  }

  /** The first item from index `from` on that `test` accepts. */
  wait(test, what, timeoutMs, from = 0) {
    return new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        const hit = this.items.slice(from).find(test);
        if (hit !== undefined || this.failure) {
          clearTimeout(timer);
          this.waiters.delete(check);
          if (hit !== undefined) resolve(hit);
          else reject(new Error(`while waiting for ${what}: ${this.failure.message}`));
        }
      };
      timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
}
