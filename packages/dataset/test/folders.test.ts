import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { parseConceptName, scanTrainingFolder } from "../src/index.js"
import { gradient, tempDir, writeFileIn } from "./fixtures.js"

describe("concept folder names", () => {
  it("reads kohya's <repeats>_<name> and the guide's <repeats>-<name>", () => {
    expect(parseConceptName("10_sks dog")).toEqual({ repeats: 10, name: "sks dog", separator: "_" })
    expect(parseConceptName("5_a_b")).toEqual({ repeats: 5, name: "a_b", separator: "_" })
    expect(parseConceptName("10-cat")).toEqual({ repeats: 10, name: "cat", separator: "-" })
    expect(parseConceptName("cat")).toBeUndefined()
    expect(parseConceptName("0_cat")).toBeUndefined()
    expect(parseConceptName("x10_cat")).toBeUndefined()
  })

  it("finds concepts, ignores wrongly named folders and reports loose and nested images", async () => {
    const root = await tempDir()
    const png = await gradient(16, 16).png().toBuffer()
    await writeFileIn(root, "10_cat/a.png", png)
    await writeFileIn(root, "10_cat/deeper/b.png", png)
    await writeFileIn(root, "3-dog/c.png", png)
    await writeFileIn(root, "cats/d.png", png)
    await writeFileIn(root, "loose.png", png)
    const reg = await tempDir()
    await writeFileIn(reg, "1_cat/r.png", png)
    const folder = await Effect.runPromise(scanTrainingFolder(root, { regularizationRoot: reg }))
    expect(
      folder.concepts.map((c) => [c.folderName, c.repeats, c.isRegularization, c.images.length]),
    ).toEqual([
      ["10_cat", 10, false, 1],
      ["3-dog", 3, false, 1],
      ["1_cat", 1, true, 1],
    ])
    expect(folder.concepts[0]!.nestedImages).toEqual([`${root}/10_cat/deeper/b.png`])
    expect(folder.ignoredFolders.map((f) => f.path)).toEqual([`${root}/cats`])
    expect(folder.looseImages).toEqual([`${root}/loose.png`])
    expect(folder.rootLooksLikeConcept).toBe(false)
    const leaf = await Effect.runPromise(scanTrainingFolder(`${root}/10_cat`))
    expect(leaf.rootLooksLikeConcept).toBe(true)
  })

  it("says which path is wrong when the folder is missing or a file", async () => {
    const root = await tempDir()
    const file = await writeFileIn(root, "file.png", "x")
    const missing = await Effect.runPromise(Effect.flip(scanTrainingFolder(`${root}/nope`)))
    expect(missing.message).toBe(`training folder ${root}/nope does not exist; check the path`)
    const notFolder = await Effect.runPromise(Effect.flip(scanTrainingFolder(file)))
    expect(notFolder.message).toBe(`training folder ${file} is a file, not a folder`)
  })
})
