/** A problem with the user's input: printed as one line (no stack trace), exit code 2. */
export class UsageError extends Error {}
