/**
 * Progress of long work (loading a model, a benchmark) on standard error: a line that updates in place with
 * the elapsed time in a terminal; plain lines otherwise (a log file gets "loading X" once the work has
 * taken a second, then the result).
 */

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export class Progress {
  readonly #stream: NodeJS.WriteStream;
  readonly #enabled: boolean;
  readonly #tty: boolean;
  #label = '';
  #start = 0;
  #timer: NodeJS.Timeout | undefined;
  #frame = 0;

  /** `quiet` silences everything. */
  constructor({ quiet = false, stream = process.stderr }: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}) {
    this.#stream = stream;
    this.#enabled = !quiet;
    this.#tty = stream.isTTY === true;
  }

  start(label: string): void {
    if (!this.#enabled) return;
    this.#stop();
    this.#label = label;
    this.#start = performance.now();
    if (this.#tty) {
      this.#timer = setInterval(() => this.#draw(), 100);
      this.#draw();
    } else {
      this.#timer = setTimeout(() => this.#stream.write(`torch-gen: ${label}...\n`), 1000);
    }
    this.#timer.unref();
  }

  /** Changes what the running line says (e.g. a count of requests done). */
  update(label: string): void {
    this.#label = label;
  }

  /** Ends the work with a line that stays; `message` may use `{s}` for the elapsed seconds. */
  done(message: string): void {
    if (!this.#enabled) return;
    const line = message.replace('{s}', this.elapsedSeconds.toFixed(1));
    this.#stop();
    this.#stream.write(`torch-gen: ${line}\n`);
  }

  /** Ends the work without a line (the error that follows says what happened). */
  fail(): void {
    if (this.#enabled) this.#stop();
  }

  get elapsedSeconds(): number {
    return (performance.now() - this.#start) / 1000;
  }

  #draw(): void {
    const frame = FRAMES[this.#frame++ % FRAMES.length];
    this.#stream.write(`\r\x1b[2K${frame} ${this.#label} ${this.elapsedSeconds.toFixed(1)} s`);
  }

  #stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#tty) this.#stream.write('\r\x1b[2K');
  }
}
