/**
 * Cooperative time slicing for long synchronous work on the event loop (canonicalizing megabytes of
 * JSON, preparing thousands of files): call {@link TimeSlice.pause} often; it yields to the event loop
 * (`setImmediate`, so pending I/O such as 304s and long-poll releases runs first) once the current
 * slice has lasted `sliceMs`. A build then never holds the loop longer than about one slice.
 */
export class TimeSlice {
  private deadline: number;

  constructor(private readonly sliceMs = 5) {
    this.deadline = performance.now() + sliceMs;
  }

  /** True when the slice is used up (for loops that cannot await at every step). */
  get due(): boolean {
    return performance.now() >= this.deadline;
  }

  /** Yields if the slice is used up, then starts a new one. */
  async pause(): Promise<void> {
    if (performance.now() < this.deadline) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.deadline = performance.now() + this.sliceMs;
  }
}
