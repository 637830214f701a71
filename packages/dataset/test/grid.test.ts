import { readFile } from "node:fs/promises"
import { join } from "node:path"
import sharp from "sharp"
import { describe, expect, it } from "vitest"
import { renderLabel, widestWord } from "../src/grid/renderLabel.js"
import {
  cellOrigin,
  cjkGridFont,
  defaultCellScale,
  defaultGridFont,
  drawGrid,
  enlargeCell,
  type GridIndex,
  gridPageHtml,
  type RawImage,
  writeGridIndex,
} from "../src/index.js"
import { tempDir } from "./fixtures.js"

const solidCell = (width: number, height: number, [r, g, b]: readonly [number, number, number]): RawImage => {
  const data = new Uint8Array(width * height * 3)
  for (let i = 0; i < data.length; i += 3) data.set([r, g, b], i)
  return { width, height, channels: 3, data }
}

interface Decoded {
  readonly width: number
  readonly height: number
  readonly data: Buffer
}

const decode = async (png: Uint8Array): Promise<Decoded> => {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true })
  expect(info.channels).toBe(3)
  return { width: info.width, height: info.height, data }
}

const pixel = (image: Decoded, x: number, y: number) => {
  const i = (y * image.width + x) * 3
  return [image.data[i], image.data[i + 1], image.data[i + 2]]
}

/** Pixels in the rectangle that are not white. */
const inked = (image: Decoded, left: number, top: number, width: number, height: number) => {
  let count = 0
  for (let y = top; y < top + height; y++)
    for (let x = left; x < left + width; x++) if (pixel(image, x, y).some((v) => v! < 200)) count++
  return count
}

describe("drawGrid", async () => {
  const cw = 128
  const ch = 112
  const colours = [
    [200, 30, 30],
    [30, 200, 30],
    [30, 30, 200],
    [200, 200, 30],
    [30, 200, 200],
    [200, 30, 200],
  ] as const
  const cells = [0, 1].map((row) => [0, 1, 2].map((col) => solidCell(cw, ch, colours[row * 3 + col]!)))
  const grid = await drawGrid({
    cells,
    xTitle: "",
    yTitle: "weight",
    xLabels: ["he-tian-yi-lang-000002", "猫-000004", "猫"],
    yLabels: ["0.3", "0.8"],
    title: "Model: 底模 v1-5",
    marks: [[{ colour: { r: 0, g: 0, b: 0 }, label: "broken" }], []],
  })
  const image = await decode(grid.png)
  const { layout } = grid

  it("is the cells plus the label bands, as A1111 sizes them", () => {
    expect(layout.scale).toBe(1)
    expect(layout.fontSize).toBe(Math.floor((cw + ch) / 25))
    expect(layout.rowLabelWidth).toBe(Math.floor((cw * 3) / 4))
    expect(layout.columnLabelHeight).toBeGreaterThan(layout.fontSize)
    expect(layout.titleHeight).toBeGreaterThan(layout.fontSize)
    expect(image.width).toBe(layout.rowLabelWidth + 3 * cw)
    expect(image.height).toBe(layout.titleHeight + layout.columnLabelHeight + 2 * ch)
    expect([image.width, image.height]).toEqual([layout.width, layout.height])
  })

  it("puts each cell where cellOrigin says, untouched where no mark covers it", () => {
    for (let row = 0; row < 2; row++) {
      for (let col = 0; col < 3; col++) {
        const { left, top } = cellOrigin(layout, row, col)
        expect(pixel(image, left + cw - 20, top + ch - 20)).toEqual([...colours[row * 3 + col]!])
      }
    }
  })

  it("draws the mark's border and badge on its cell", () => {
    const { left, top } = cellOrigin(layout, 0, 0)
    expect(pixel(image, left, top + ch / 2)).toEqual([0, 0, 0])
    expect(pixel(image, left + cw - 1, top + ch - 1)).toEqual([0, 0, 0])
    const badge = pixel(image, left + 3, top + 3)
    expect(badge).toEqual([0, 0, 0])
    const other = cellOrigin(layout, 1, 1)
    expect(pixel(image, other.left, other.top)).toEqual([...colours[4]])
  })

  it("writes every column label, row label and the title in its band", () => {
    for (let col = 0; col < 3; col++) {
      const { left } = cellOrigin(layout, 0, col)
      expect(inked(image, left, layout.titleHeight, cw, layout.columnLabelHeight)).toBeGreaterThan(10)
    }
    for (let row = 0; row < 2; row++) {
      const { top } = cellOrigin(layout, row, 0)
      expect(inked(image, 0, top, layout.rowLabelWidth, ch)).toBeGreaterThan(10)
    }
    expect(inked(image, 0, 0, image.width, layout.titleHeight)).toBeGreaterThan(10)
    expect(inked(image, 0, layout.titleHeight, layout.rowLabelWidth, layout.columnLabelHeight)).toBe(0)
  })

  it("wraps a long label inside its column", async () => {
    const narrow = await drawGrid({
      cells: [[solidCell(64, 64, [9, 9, 9])]],
      scale: 1,
      xTitle: "epoch file",
      yTitle: "",
      xLabels: ["he-tian-yi-lang-000002 he-tian-yi-lang-000004"],
      yLabels: [""],
    })
    expect(narrow.layout.rowLabelWidth).toBe(0)
    expect(narrow.layout.columnLabelHeight).toBeGreaterThan(3 * narrow.layout.fontSize)
    expect((await decode(narrow.png)).width).toBe(64)
  })

  it("leaves a missing cell blank and refuses cells of different sizes", async () => {
    const partial = await drawGrid({
      cells: [[solidCell(32, 32, [0, 0, 0]), null]],
      xTitle: "",
      yTitle: "",
      xLabels: ["a", "b"],
      yLabels: [""],
    })
    const decoded = await decode(partial.png)
    const { left, top } = cellOrigin(partial.layout, 0, 1)
    expect(pixel(decoded, left + 16, top + 16)).toEqual([255, 255, 255])
    await expect(
      drawGrid({
        cells: [[solidCell(32, 32, [0, 0, 0]), solidCell(32, 16, [0, 0, 0])]],
        xTitle: "",
        yTitle: "",
        xLabels: ["a", "b"],
        yLabels: [""],
      }),
    ).rejects.toThrow(/grid cells must all be 32×32, one is 32×16/)
  })
})

describe("small cells", async () => {
  // A 2×2 checker of distinct colours in each 32 px cell: enlarging by nearest keeps each quadrant solid.
  const quadrants = [
    [250, 10, 10],
    [10, 250, 10],
    [10, 10, 250],
    [250, 250, 10],
  ] as const
  const checker = (side: number): RawImage => {
    const data = new Uint8Array(side * side * 3)
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++)
        data.set(quadrants[(y < side / 2 ? 0 : 2) + (x < side / 2 ? 0 : 1)]!, (y * side + x) * 3)
    return { width: side, height: side, channels: 3, data }
  }

  it("are enlarged by a whole factor towards 128 px, A1111-size cells not at all", () => {
    expect(defaultCellScale(32, 32)).toBe(4)
    expect(defaultCellScale(64, 48)).toBe(3)
    expect(defaultCellScale(85, 200)).toBe(2)
    expect(defaultCellScale(86, 86)).toBe(1)
    expect(defaultCellScale(512, 512)).toBe(1)
  })

  it("enlarge pixel by pixel, each into a solid block", () => {
    const source: RawImage = {
      width: 2,
      height: 1,
      channels: 4,
      data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
    }
    const big = enlargeCell(source, 3)
    expect([big.width, big.height, big.channels]).toEqual([6, 3, 4])
    for (let y = 0; y < 3; y++)
      for (let x = 0; x < 6; x++)
        expect([...big.data.subarray((y * 6 + x) * 4, (y * 6 + x + 1) * 4)]).toEqual(
          x < 3 ? [1, 2, 3, 4] : [5, 6, 7, 8],
        )
    expect(enlargeCell(source, 1)).toBe(source)
  })

  const grid = await drawGrid({
    cells: [[checker(32), checker(32)]],
    xTitle: "Epoch",
    yTitle: "Weight",
    xLabels: ["000002", "final"],
    yLabels: ["0.5"],
  })
  const image = await decode(grid.png)

  it("are drawn 4 times larger in the grid, without blur", () => {
    const { layout } = grid
    expect([layout.scale, layout.cellWidth, layout.cellHeight]).toEqual([4, 128, 128])
    expect(image.width).toBe(layout.rowLabelWidth + 2 * 128)
    const { left, top } = cellOrigin(layout, 0, 1)
    for (const [x, y, q] of [
      [0, 0, 0],
      [63, 63, 0],
      [64, 0, 1],
      [127, 63, 1],
      [0, 64, 2],
      [64, 127, 3],
    ] as const)
      expect(pixel(image, left + x, top + y)).toEqual([...quadrants[q]])
  })

  it("keep every row-label word whole: the band widens past three quarters of a cell when a word needs it", async () => {
    const font = defaultGridFont()
    const narrow = await drawGrid({
      cells: [[checker(32)]],
      scale: 1,
      xTitle: "",
      yTitle: "Weight",
      xLabels: [""],
      yLabels: ["0.5"],
    })
    const { fontSize, rowLabelWidth } = narrow.layout
    const word = (await renderLabel("Weight:", {
      font,
      size: fontSize,
      width: 10_000,
      colour: { r: 0, g: 0, b: 0 },
    }))!
    expect(word.width).toBeGreaterThan(24)
    expect(rowLabelWidth).toBe(word.width + Math.floor(fontSize / 2))
    expect(await widestWord("Weight: 0.5", { font, size: fontSize, colour: { r: 0, g: 0, b: 0 } })).toBe(
      word.width,
    )
  })

  it("shrink a column label whose word is wider than the cell rather than break the word", async () => {
    const side = 240
    const long = "abcdefghijklmnopqrstuvwxyz0123456789"
    const wide = await drawGrid({
      cells: [[solidCell(side, side, [9, 9, 9])]],
      xTitle: "",
      yTitle: "",
      xLabels: [long],
      yLabels: [""],
    })
    const { fontSize, columnLabelHeight } = wide.layout
    const black = { r: 0, g: 0, b: 0 }
    const font = defaultGridFont()
    expect(
      (await renderLabel(long, { font, size: fontSize, width: 10_000, colour: black }))!.width,
    ).toBeGreaterThan(side)
    const line = (await renderLabel(long, { font, size: fontSize, width: side, colour: black }))!
    // One line of a smaller font, where the full-size label wraps onto two.
    expect(columnLabelHeight - 2 * Math.floor(fontSize / 2)).toBeLessThan(line.height / 1.5)
  })
})

describe("CJK labels", () => {
  /** Share of the ink bounding box's edge that is inked: 1 for the framed box Pango draws for a missing glyph. */
  const frame = (label: { width: number; height: number; data: Buffer }) => {
    const inked = (x: number, y: number) => label.data[(y * label.width + x) * 4 + 3]! > 128
    let [x0, y0, x1, y1] = [label.width, label.height, -1, -1]
    for (let y = 0; y < label.height; y++)
      for (let x = 0; x < label.width; x++)
        if (inked(x, y))
          [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)]
    let edge = 0
    let total = 0
    for (let x = x0; x <= x1; x++)
      for (const y of [y0, y1]) [edge, total] = [edge + (inked(x, y) ? 1 : 0), total + 1]
    for (let y = y0; y <= y1; y++)
      for (const x of [x0, x1]) [edge, total] = [edge + (inked(x, y) ? 1 : 0), total + 1]
    return edge / total
  }

  it("render with the npm font: 猫 is a real glyph, not the box drawn for a missing one", async () => {
    const font = cjkGridFont()
    expect(font?.file).toMatch(/NotoSansHans-Regular\.otf$/)
    const style = { font: font!, size: 40, width: 200, colour: { r: 0, g: 0, b: 0 } }
    const cat = (await renderLabel("猫", style))!
    const dog = (await renderLabel("狗", style))!
    const missing = (await renderLabel("\u{10fffd}", style))!
    expect(frame(missing)).toBeGreaterThan(0.9)
    expect(frame(cat)).toBeLessThan(0.5)
    expect(frame(dog)).toBeLessThan(0.5)
    // An ideograph is one em wide: about 40 px at 40 px.
    expect(cat.width).toBeGreaterThan(32)
    expect(cat.width).toBeLessThan(48)
    expect(Buffer.compare(cat.data, dog.data)).not.toBe(0)
  })
})

describe("grid page", () => {
  const index: GridIndex = {
    title: "he-tian-yi-lang <xyz>",
    x: { title: "", values: ["he-tian-yi-lang-000002", "he-tian-yi-lang"] },
    y: { title: "weight", values: ["0", "0.8"] },
    sheets: [
      {
        image: "grid.png",
        cells: [
          {
            x: 0,
            y: 0,
            file: "cells/a b.png",
            verdict: "base",
            parameters: 'cat\nSteps: 20, Lora hashes: "x: 1"',
          },
          {
            x: 1,
            y: 1,
            file: "cells/猫.png",
            verdict: "over",
            colour: "#ea580c",
            note: "copies 10_cat/a.png",
          },
        ],
      },
    ],
    summary: ["recommended: epoch 2 at weight 0.6"],
  }

  it("shows every cell, escapes text and links files", () => {
    const html = gridPageHtml(index)
    expect(html).toContain("he-tian-yi-lang &lt;xyz&gt;")
    expect(html).toContain('src="cells/a%20b.png"')
    expect(html).toContain('src="cells/%E7%8C%AB.png"')
    expect(html).toContain("weight: 0.8")
    expect(html).toContain("copies 10_cat/a.png")
    expect(html).toContain('title="cat\nSteps: 20, Lora hashes: &quot;x: 1&quot;"')
    expect(html.match(/class="missing"/g)).toHaveLength(2)
    expect(html).toContain("recommended: epoch 2 at weight 0.6")
  })

  it("writes index.json and index.html", async () => {
    const dir = await tempDir()
    const written = await writeGridIndex(dir, index)
    expect(written).toEqual({ json: join(dir, "index.json"), html: join(dir, "index.html") })
    expect(JSON.parse(await readFile(written.json, "utf8"))).toEqual(index)
    expect(await readFile(written.html, "utf8")).toBe(gridPageHtml(index))
  })
})
