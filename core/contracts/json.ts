// Typed contracts read back from JSON columns. A contract's Static<> type is a plain object type, so
// the writers (worker, API) store it as it is; what comes back is the JSON the column holds, which
// the readers take as the contract it was written as. The one place a JSON value stands for its
// contract type.

/**
 * A JSON column's value as the contract it was written as: `fromJson<ExperimentSummary | null>(
 * row.summary)`. Writers store the contract's Static<> type (core/contracts/*), so this is no more
 * than what they wrote; a reader that must survive older rows checks the optional fields.
 */
export function fromJson<T>(value: unknown): T {
  return value as T;
}
