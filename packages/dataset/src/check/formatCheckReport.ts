import { relative } from "node:path"
import { formatSize } from "../buckets/sizing.js"
import type { CheckReport } from "./checkReport.js"

/** A plain-text table: columns padded to their widest cell, numbers right-aligned. */
export const table = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string | number>>,
): string => {
  const cells = [header, ...rows.map((row) => row.map(String))]
  const widths = header.map((_, c) => Math.max(...cells.map((row) => [...(row[c] ?? "")].length)))
  const numeric = header.map((_, c) => rows.length > 0 && rows.every((row) => typeof row[c] === "number"))
  return cells
    .map((row) =>
      row
        .map((cell, c) => {
          const pad = " ".repeat(widths[c]! - [...cell].length)
          return numeric[c] ? pad + cell : cell + pad
        })
        .join("  ")
        .trimEnd(),
    )
    .join("\n")
}

const listed = (
  title: string,
  paths: ReadonlyArray<string>,
  show: (path: string) => string,
  limit = 10,
): string => {
  if (paths.length === 0) return ""
  const lines = paths.slice(0, limit).map((p) => `  ${show(p)}`)
  if (paths.length > limit) lines.push(`  … and ${paths.length - limit} more (see --json)`)
  return `${title} (${paths.length}):\n${lines.join("\n")}\n`
}

/** The readable form of a {@link CheckReport}; paths are shown relative to the training folder. */
export const formatCheckReport = (report: CheckReport): string => {
  const show = (path: string) => {
    const rel = relative(report.root, path)
    return rel.startsWith("..") ? path : rel
  }
  const sections: Array<string> = []
  const { sizing, batchSize, captionExtension } = report.settings
  const sizingText =
    sizing.mode === "fixed"
      ? `fixed ${formatSize(sizing.size)}`
      : `buckets for ${formatSize(sizing.resolution)} (sides ${sizing.minSide}–${sizing.maxSide}, step ${sizing.step}${sizing.noUpscale ? ", no upscale" : ""})`
  sections.push(
    `danlu dataset check ${report.root}\n${sizingText}, batch ${batchSize}, captions ${captionExtension}\n`,
  )

  sections.push(
    `${table(
      ["concept", "repeats", "images", "× repeats", "steps/epoch", "captioned"],
      [
        ...report.concepts.map((c) => [
          c.isRegularization ? `${c.folderName} (reg)` : c.folderName,
          c.repeats,
          c.images,
          c.imagesTimesRepeats,
          c.stepsPerEpoch,
          c.captioned,
        ]),
      ],
    )}\ntotal: ${report.totals.images} images, ${report.totals.imagesTimesRepeats} samples per epoch${
      report.totals.regularizationSamples > 0
        ? ` + ${report.totals.regularizationSamples} regularisation`
        : ""
    }, ${report.totals.stepsPerEpoch} steps per epoch with batches drawn within buckets\n`,
  )

  const formats = Object.entries(report.formats)
    .map(([format, count]) => `${format} ${count}`)
    .join(", ")
  sections.push(`formats: ${formats === "" ? "none" : formats}\n`)

  sections.push(
    `${table(
      ["resolution", "images"],
      report.resolutionHistogram.filter((bin) => bin.count > 0).map((bin) => [bin.label, bin.count]),
    )}\n`,
  )
  if (report.buckets.length > 0) {
    const total = report.buckets.reduce((sum, b) => sum + b.count, 0)
    sections.push(
      `${table(
        ["bucket", "aspect", "images", ""],
        report.buckets.map((b) => [
          formatSize(b.bucket),
          b.aspect.toFixed(2),
          b.count,
          "█".repeat(Math.max(1, Math.round((20 * b.count) / total))),
        ]),
      )}\n`,
    )
  }

  const p = report.problems
  sections.push(
    [
      listed(
        "skipped",
        report.skipped.map((s) => `${show(s.path)} — ${s.reason}`),
        (s) => s,
      ),
      listed(
        "cannot decode",
        p.decodeFailures.map((s) => `${show(s.path)} — ${s.reason}`),
        (s) => s,
      ),
      listed("animated (first frame used)", p.animated, show),
      listed("CMYK", p.cmyk, show),
      listed("16-bit", p.highBitDepth, show),
      listed("alpha channel (flattened)", p.alpha, show),
      listed("EXIF rotation", p.exifRotated, show),
      listed("below the target resolution", p.belowResolution, show),
      listed("too small for this bucket setting", p.noBucket, show),
      listed("extension does not match content", p.extensionMismatch, show),
      listed(
        "identical files",
        p.exactDuplicates.map((g) => g.map(show).join(" = ")),
        (s) => s,
      ),
      listed(
        "near-duplicates",
        p.nearDuplicates.map((g) => g.map(show).join(" ≈ ")),
        (s) => s,
      ),
    ].join(""),
  )

  const c = report.captions
  const captionLines = [
    `captions (${c.extension}): ${c.captioned} of ${c.captioned + c.missing.length + c.empty.length + c.unreadable.length} images`,
  ]
  if (c.topTags.length > 0)
    captionLines.push(`top tags: ${c.topTags.map((t) => `${t.tag} (${t.count})`).join(", ")}`)
  sections.push(
    `${captionLines.join("\n")}\n${listed("no caption", c.missing, show)}${listed("caption without an image", c.orphans, show)}`,
  )

  if (report.advice.length > 0) {
    sections.push(report.advice.map((a) => `${a.level === "warning" ? "⚠" : "·"} ${a.message}`).join("\n"))
  }
  return `${sections
    .filter((s) => s.trim() !== "")
    .join("\n")
    .trimEnd()}\n`
}
