/**
 * A problem with training data on disk (missing, corrupt or inconsistent files).
 * Kept distinct from programming errors so the CLI can print the message alone, without a stack.
 */
export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DataError";
  }
}
