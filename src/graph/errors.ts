/**
 * User-facing errors. The CLI prints `message` alone (no stack) and exits non-zero;
 * anything that is not an AlexcError is a bug and is printed with its stack.
 */
import { formatSource, SourceLoc } from "./source";

export class AlexcError extends Error {
  /** Exit code the CLI uses for this class of error (see README "Exit codes"). */
  readonly exitCode: number = 1;
}

/** A model that breaks an op's shape rule. */
export class ShapeError extends AlexcError {
  override readonly exitCode = 3;
  constructor(
    readonly op: string,
    readonly nodeName: string,
    readonly rule: string,
    readonly loc?: SourceLoc,
  ) {
    const where = loc ? `${formatSource(loc)}: ` : "";
    super(`${where}shape error in ${op} '${nodeName}': ${rule}`);
    this.name = "ShapeError";
  }
}

/** A model file that cannot be loaded or used (missing, syntax error, no model exported...). */
export class ModelError extends AlexcError {
  override readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = "ModelError";
  }
}

/** A graph the autodiff driver cannot differentiate (no VJP rule, non-scalar loss...). */
export class GradientError extends AlexcError {
  override readonly exitCode = 3;
  constructor(message: string, loc?: SourceLoc) {
    super(loc ? `${formatSource(loc)}: ${message}` : message);
    this.name = "GradientError";
  }
}

/** Bad files or paths given on the command line (unwritable output, not an ONNX file...). */
export class IoError extends AlexcError {
  override readonly exitCode = 4;
  constructor(message: string) {
    super(message);
    this.name = "IoError";
  }
}

/** A file whose content is wrong: data, weights, images (exit 5, like a bad checkpoint). */
export class BadDataError extends AlexcError {
  override readonly exitCode = 5;
  constructor(message: string) {
    super(message);
    this.name = "BadDataError";
  }
}

/** A bad command-line argument that the option parser itself accepts (e.g. `--seed abc`). */
export class UsageError extends AlexcError {
  override readonly exitCode = 64;
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
