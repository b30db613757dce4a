// Progress on stderr: a bar per phase on a terminal, one line per phase otherwise (CI logs, pipes).
// stdout stays for the results table.
import cliProgress from 'cli-progress';

export class Progress {
  readonly #tty = process.stderr.isTTY === true;
  #bar: cliProgress.SingleBar | undefined;
  #label = '';
  #t0 = 0;

  /** Starts a phase of `total` units (seconds, links, rounds…). */
  phase(label: string, total: number, unit = ''): void {
    this.end();
    this.#label = label;
    this.#t0 = performance.now();
    if (this.#tty) {
      this.#bar = new cliProgress.SingleBar(
        { format: `${label.padEnd(34)} [{bar}] {value}/{total}${unit ? ` ${unit}` : ''} {note}`, barsize: 24, hideCursor: true, clearOnComplete: false, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      );
      this.#bar.start(Math.max(1, Math.round(total)), 0, { note: '' });
    } else {
      process.stderr.write(`${label}…\n`);
    }
  }

  update(value: number, note = ''): void {
    this.#bar?.update(Math.round(value), { note });
  }

  /** Ends the phase with a one-line result. */
  end(result?: string): void {
    if (this.#bar) {
      this.#bar.update({ note: result ?? '' });
      this.#bar.stop();
      this.#bar = undefined;
    } else if (result !== undefined) {
      process.stderr.write(`  ${this.#label}: ${result} (${((performance.now() - this.#t0) / 1000).toFixed(1)} s)\n`);
    }
  }

  note(message: string): void {
    this.end();
    process.stderr.write(`${message}\n`);
  }
}
