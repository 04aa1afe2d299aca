/** The OPA binary the global setup settled on; throws (never skips) when it is missing. */
export function opaPath(): string {
  const path = process.env.REGENT_OPA_PATH;
  if (!path) throw new Error('REGENT_OPA_PATH is not set: the vitest global setup did not run or found no OPA');
  return path;
}
