// A progress line on stderr with a known total, a rate and an ETA; stdout stays clean for --json.

export class ProgressLine {
  private readonly start = performance.now();
  private lastDraw = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly unit: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number, detail = ''): void {
    const now = performance.now();
    // Redrawing more than ten times a second only costs time.
    if (done < this.total && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const elapsed = (now - this.start) / 1000;
    const fraction = this.total > 0 ? done / this.total : 1;
    const width = 24;
    const filled = Math.round(fraction * width);
    const eta = done > 0 ? (elapsed / done) * (this.total - done) : Number.NaN;
    const line =
      `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} ${this.unit}` +
      `  ${formatSeconds(elapsed)} elapsed${Number.isFinite(eta) && done < this.total ? `, ETA ${formatSeconds(eta)}` : ''}` +
      (detail ? `  ${detail}` : '');
    if (this.stream.isTTY) this.stream.write(`\r${line}\x1b[K`);
    else if (done === this.total) this.stream.write(`${line}\n`);
  }

  done(): void {
    if (this.stream.isTTY) this.stream.write('\n');
  }
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - 60 * m)} s`;
}
