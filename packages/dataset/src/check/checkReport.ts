import type { Size } from "../buckets/bucketResolutions.js"
import type { Sizing } from "../buckets/sizing.js"

export interface ConceptSummary {
  readonly folderName: string
  readonly name: string
  readonly repeats: number
  readonly isRegularization: boolean
  /** The folder uses the guide's `10-cat` form, which kohya and 秋叶 ignore. */
  readonly hyphenated: boolean
  /** Decodable, trainable images. */
  readonly images: number
  readonly imagesTimesRepeats: number
  /** ⌈images × repeats ÷ batch⌉, ignoring buckets. */
  readonly stepsPerEpoch: number
  readonly captioned: number
}

export interface ImageEntry {
  readonly path: string
  readonly concept: string
  readonly format: string
  readonly width: number
  readonly height: number
  readonly bucket: Size
  readonly resized: Size
  readonly upscaled: boolean
}

export interface SkippedFile {
  readonly path: string
  readonly reason: string
}

export interface HistogramBin {
  readonly label: string
  readonly count: number
}

export interface BucketBin {
  readonly bucket: Size
  readonly aspect: number
  readonly count: number
}

export interface Advice {
  readonly level: "warning" | "info"
  readonly message: string
}

/** The whole `danlu dataset check` result; `--json` prints exactly this. */
export interface CheckReport {
  readonly root: string
  readonly regularizationRoot: string | undefined
  readonly settings: {
    readonly sizing: Sizing
    readonly batchSize: number
    readonly captionExtension: string
  }
  readonly concepts: ReadonlyArray<ConceptSummary>
  readonly totals: {
    readonly images: number
    readonly imagesTimesRepeats: number
    /** Regularisation samples registered per epoch after kohya's balancing. */
    readonly regularizationSamples: number
    /** Optimizer steps per epoch with batches drawn within buckets (kohya), regularisation included. */
    readonly stepsPerEpoch: number
  }
  readonly formats: Readonly<Record<string, number>>
  readonly skipped: ReadonlyArray<SkippedFile>
  readonly problems: {
    readonly decodeFailures: ReadonlyArray<SkippedFile>
    readonly animated: ReadonlyArray<string>
    readonly cmyk: ReadonlyArray<string>
    readonly highBitDepth: ReadonlyArray<string>
    readonly alpha: ReadonlyArray<string>
    readonly exifRotated: ReadonlyArray<string>
    readonly belowResolution: ReadonlyArray<string>
    /** A side under the bucket step without upscaling: no bucket fits, so prepare and training skip it. */
    readonly noBucket: ReadonlyArray<string>
    readonly extensionMismatch: ReadonlyArray<string>
    readonly exactDuplicates: ReadonlyArray<ReadonlyArray<string>>
    readonly nearDuplicates: ReadonlyArray<ReadonlyArray<string>>
  }
  readonly resolutionHistogram: ReadonlyArray<HistogramBin>
  readonly buckets: ReadonlyArray<BucketBin>
  readonly captions: {
    readonly extension: string
    readonly captioned: number
    readonly missing: ReadonlyArray<string>
    readonly empty: ReadonlyArray<string>
    readonly unreadable: ReadonlyArray<SkippedFile>
    /** Caption files (under `extension`) in a concept folder that no image there reads. */
    readonly orphans: ReadonlyArray<string>
    /** Images with no caption under `extension` that have one under another known extension. */
    readonly otherExtension: { readonly extension: string; readonly count: number } | undefined
    readonly topTags: ReadonlyArray<{ readonly tag: string; readonly count: number }>
  }
  readonly images: ReadonlyArray<ImageEntry>
  readonly advice: ReadonlyArray<Advice>
}
