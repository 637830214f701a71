import { describe, expect, it } from "vitest"
import { parseCsv, parseSelectedTags, TaggerInputError } from "../src/index.js"

describe("parseCsv", () => {
  it("reads quoted fields with commas, quotes and CRLF line ends", () => {
    expect(parseCsv('a,b\r\n"x, y","say ""hi"""\r\n')).toEqual([
      ["a", "b"],
      ["x, y", 'say "hi"'],
    ])
  })

  it("ignores a byte-order mark and blank lines", () => {
    expect(parseCsv("\ufeffa,b\n\n1,2")).toEqual([
      ["a", "b"],
      ["1", "2"],
    ])
  })
})

describe("parseSelectedTags", () => {
  const csv = [
    "tag_id,name,category,count",
    "9999999,general,9,807",
    "9999998,sensitive,9,124",
    "470575,1girl,0,4225150",
    "212816,^_^,0,40000",
    "1,hatsune_miku,4,90000",
    '2,"odd,name",0,5',
  ].join("\n")

  it("maps categories 9/0/4 to rating/general/character and keeps row indices", () => {
    const labels = parseSelectedTags(csv)
    expect(labels.labels.map((label) => [label.name, label.category, label.index])).toEqual([
      ["general", "rating", 0],
      ["sensitive", "rating", 1],
      ["1girl", "general", 2],
      ["^_^", "general", 3],
      ["hatsune_miku", "character", 4],
      ["odd,name", "general", 5],
    ])
    expect(labels.ratings.map((label) => label.name)).toEqual(["general", "sensitive"])
  })

  it("treats other category codes (e.g. e621 copyright) as general", () => {
    const labels = parseSelectedTags("tag_id,name,category,count\n1,vocaloid,3,10")
    expect(labels.labels[0]?.category).toBe("general")
  })

  it("rejects a file without the WD1.4 header in one line", () => {
    expect(() => parseSelectedTags("id,tag\n1,a", "tags.csv")).toThrow(TaggerInputError)
    expect(() => parseSelectedTags("id,tag\n1,a", "tags.csv")).toThrow(/tags.csv is not a WD1.4 tag list/)
  })

  it("rejects a row without a numeric category, naming the line", () => {
    expect(() => parseSelectedTags("tag_id,name,category,count\n1,a,0,1\n2,b,x,1", "t.csv")).toThrow(
      /t.csv line 3/,
    )
  })

  it("rejects an empty list", () => {
    expect(() => parseSelectedTags("tag_id,name,category,count\n")).toThrow(/no tags/)
  })
})
