import { readdir } from "node:fs/promises"
import { join } from "node:path"
import type { ModelFileError } from "@danlu/core/io"
import { openModelFile } from "@danlu/core/node"
import { Effect } from "effect"
import type { ValidationLossPoint } from "../diagnose/verdict.js"
import { DatasetError, describeCause } from "../errors.js"

/** One LoRA file a run wrote: an epoch file `name-000002.safetensors` or the final `name.safetensors`. */
export interface EpochFile {
  readonly path: string
  /** The file name without `.safetensors`: what `<lora:…>` names. */
  readonly stem: string
  readonly epoch: number
  /** "000002" for an epoch file, "final" for the last one. */
  readonly label: string
  readonly final: boolean
}

/** The metadata key the trainer writes the validation-loss curve into, JSON `[{epoch, loss}]`. */
export const validationLossKey = "danlu.validation_loss"

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

const metadataOf = (path: string) => Effect.scoped(Effect.map(openModelFile(path), (file) => file.metadata))

/**
 * The files of run `name` in `dir` by kohya's names, in epoch order. The final file's epoch is its
 * `ss_epoch` metadata, else one past the last epoch file.
 */
export const findEpochFiles = (
  dir: string,
  name: string,
): Effect.Effect<ReadonlyArray<EpochFile>, DatasetError | ModelFileError> =>
  Effect.gen(function* () {
    const names = yield* Effect.tryPromise({
      try: () => readdir(dir),
      catch: (cause) =>
        new DatasetError({ message: `cannot read ${dir}: ${describeCause(cause)}`, path: dir }),
    })
    const pattern = new RegExp(`^${escapeRegExp(name)}-(\\d{6})\\.safetensors$`)
    const epochs: EpochFile[] = names
      .flatMap((file) => {
        const match = pattern.exec(file)
        if (!match) return []
        const label = match[1]!
        return [
          {
            path: join(dir, file),
            stem: file.slice(0, -".safetensors".length),
            epoch: Number(label),
            label,
            final: false,
          },
        ]
      })
      .sort((a, b) => a.epoch - b.epoch)
    if (names.includes(`${name}.safetensors`)) {
      const path = join(dir, `${name}.safetensors`)
      const stored = Number((yield* metadataOf(path)).ss_epoch)
      const epoch = Number.isInteger(stored) && stored > 0 ? stored : (epochs.at(-1)?.epoch ?? 0) + 1
      epochs.push({ path, stem: name, epoch, label: "final", final: true })
    }
    if (epochs.length === 0) {
      return yield* new DatasetError({
        message: `no LoRA files of "${name}" in ${dir} (looked for ${name}-000001.safetensors … and ${name}.safetensors)`,
        path: dir,
      })
    }
    return epochs
  })

/** The validation-loss curve stored in a LoRA file's metadata, or an empty one. */
export const readValidationLoss = (
  path: string,
): Effect.Effect<ReadonlyArray<ValidationLossPoint>, ModelFileError> =>
  Effect.map(metadataOf(path), (metadata) => {
    const text = metadata[validationLossKey]
    if (text === undefined) return []
    try {
      const parsed: unknown = JSON.parse(text)
      return Array.isArray(parsed)
        ? parsed.filter(
            (p): p is ValidationLossPoint =>
              typeof p === "object" && p !== null && Number.isFinite(p.epoch) && Number.isFinite(p.loss),
          )
        : []
    } catch {
      return []
    }
  })
