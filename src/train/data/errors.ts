/**
 * A problem with training data on disk (missing, corrupt or inconsistent files): a BadDataError,
 * so the CLI prints the message alone and exits 5.
 */
import { BadDataError } from "../../graph/errors";

export class DataError extends BadDataError {
  constructor(message: string) {
    super(message);
    this.name = "DataError";
  }
}
