import { describe, expect, it } from "vitest"
import { pyBool, pyFloat, pyInt } from "../src/train/pythonStr.js"

describe("Python's str() of kohya's metadata values", () => {
  it("writes floats as Python's repr does (values printed by CPython)", () => {
    const python: ReadonlyArray<readonly [number, string]> = [
      [1e-5, "1e-05"],
      [1, "1.0"],
      [0.0001, "0.0001"],
      [1e16, "1e+16"],
      [0.3, "0.3"],
      [2e-4, "0.0002"],
      [5e-5, "5e-05"],
      [1e-4 * 3, "0.00030000000000000003"],
      [0.1 + 0.2, "0.30000000000000004"],
      [123, "123.0"],
      [1e-7, "1e-07"],
      [1.5e300, "1.5e+300"],
      [0, "0.0"],
      [-2.5e-6, "-2.5e-06"],
    ]
    for (const [value, text] of python) expect(pyFloat(value)).toBe(text)
  })

  it("writes booleans, ints and unset values as Python does", () => {
    expect([pyBool(true), pyBool(false), pyInt(512), pyInt(undefined), pyFloat(undefined)]).toEqual([
      "True",
      "False",
      "512",
      "None",
      "None",
    ])
  })
})
