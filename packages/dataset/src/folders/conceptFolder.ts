/** A concept folder's name read as kohya reads it: `<repeats>_<name>`, or the guide's `<repeats>-<name>`. */
export interface ConceptName {
  readonly repeats: number
  /** kohya's `class_tokens`: everything after the first separator (may contain spaces and `_`). */
  readonly name: string
  readonly separator: "_" | "-"
}

/**
 * Parses a concept folder name. kohya accepts only `10_cat`; the guide writes `10-cat`, so the
 * hyphen is accepted too (the check report says kohya would ignore that folder). Returns undefined
 * for a name without leading repeats, and for repeats below 1 (kohya skips those).
 */
export const parseConceptName = (folderName: string): ConceptName | undefined => {
  const match = /^(\d+)([_-])(.*)$/s.exec(folderName)
  if (match === null) return undefined
  const repeats = Number(match[1])
  if (!Number.isSafeInteger(repeats) || repeats < 1) return undefined
  return { repeats, name: match[3]!, separator: match[2] === "_" ? "_" : "-" }
}
