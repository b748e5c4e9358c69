// Contiguous train/validation split: the validation text is the tail, so no window straddles both.

export interface TokenSplit {
  readonly train: Int32Array;
  readonly validation: Int32Array;
}

export function splitTrainValidation(ids: Int32Array, validationFraction = 0.1): TokenSplit {
  if (!(validationFraction >= 0 && validationFraction < 1)) {
    throw new RangeError(`validation fraction must be in [0, 1), got ${validationFraction}`);
  }
  const cut = ids.length - Math.floor(ids.length * validationFraction);
  return { train: ids.subarray(0, cut), validation: ids.subarray(cut) };
}
