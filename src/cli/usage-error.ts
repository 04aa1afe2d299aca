/** A command-line mistake: the CLI prints the message and a usage hint, and exits with 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
