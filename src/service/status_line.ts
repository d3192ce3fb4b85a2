/**
 * The one live line at the bottom of a terminal (`12.3 fps | stable | benign p(mal) 4%±1 < 15% | …`), kept apart from
 * the log lines above it. It used to be a hand-written `\r` line on stderr, which every log line on stdout
 * overwrote half-way. log-update (sindresorhus) redraws it in place with ANSI erase sequences; the logger
 * calls `around()` for each line so the status is erased first and drawn again below the new line.
 */
import { createLogUpdate } from 'log-update';

export class StatusLine {
  private readonly draw: ReturnType<typeof createLogUpdate>;
  private text = '';

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.draw = createLogUpdate(stream, { showCursor: true });
  }

  update(text: string): void {
    this.text = text;
    this.draw(text);
  }

  /** Writes something above the status line (a log line) without the two colliding. */
  around(write: () => void): void {
    if (this.text) this.draw.clear();
    write();
    if (this.text) this.draw(this.text);
  }

  /** Leaves the last status on screen as an ordinary line and stops redrawing it. */
  done(): void {
    if (this.text) this.draw.done();
    this.text = '';
  }
}
