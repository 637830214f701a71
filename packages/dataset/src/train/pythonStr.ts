/**
 * Python's `str()` of kohya's metadata values. sd-scripts builds its `ss_*` metadata from the argparse values and
 * writes `{k: str(v)}`, so readers of LoRA files (A1111's and the sharing sites' metadata views, kohya's own
 * tools) see `True`/`False`, `None` and Python's float repr (`1e-05`, `1.0`), not JavaScript's `true`, `1`.
 */

export const pyBool = (value: boolean): string => (value ? "True" : "False")

/** An `int` argument, `None` when unset. */
export const pyInt = (value: number | undefined): string => (value === undefined ? "None" : String(value))

/**
 * A `float` argument, `None` when unset: the shortest round-trip digits (as both languages give them), written
 * in exponent form, two-digit exponent, when the decimal exponent is below −4 or at least 16, as Python's repr.
 */
export const pyFloat = (value: number | undefined): string => {
  if (value === undefined) return "None"
  if (Number.isNaN(value)) return "nan"
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf"
  const [digits = "", exponentText = "0"] = value.toExponential().split("e")
  const exponent = Number(exponentText)
  if (exponent < -4 || exponent >= 16)
    return `${digits}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`
  const decimal = String(value)
  return Number.isInteger(value) ? `${decimal}.0` : decimal
}
