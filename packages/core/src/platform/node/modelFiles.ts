/// <reference types="node" />
import { readdir, readFile, stat } from "node:fs/promises"
import { join } from "node:path"
import { Effect, type Scope } from "effect"
import { convertToSafetensors } from "../../io/convert.js"
import {
  CheckpointFormatError,
  FileAccessError,
  type ModelFileError,
  type OutputExists,
} from "../../io/errors.js"
import { mergeTensorFiles } from "../../io/mergedTensorFile.js"
import { openTensorFile } from "../../io/openTensorFile.js"
import type { TensorFile } from "../../io/tensorFile.js"
import { type DiffusersParts, detectDiffusersFolder } from "../../models/detect/diffusersFolder.js"
import { inspectTensorFile, type ModelInspection } from "../../models/detect/inspect.js"
import { type AtomicWriteResult, type ExistingFile, writeFileAtomic } from "./atomicWrite.js"
import { fileError } from "./fileErrors.js"
import { openFileSource } from "./fileSource.js"

/** Opens a checkpoint or LoRA file (safetensors or torch.save zip); it stays open until the scope closes. */
export const openModelFile = (path: string): Effect.Effect<TensorFile, ModelFileError, Scope.Scope> =>
  Effect.flatMap(openFileSource(path), openTensorFile)

const attempt = <A>(path: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (cause) => fileError(path, cause) })

/** Weight file names diffusers writes, best first: safetensors before pickles, full precision before fp16. */
const weightNames = (base: string): Array<string> => [
  `${base}.safetensors`,
  `${base}.fp16.safetensors`,
  `${base}.bin`,
  `${base}.fp16.bin`,
]

/** Opens the weights of one diffusers component folder (single file or shards listed by an index JSON). */
const openComponent = (folder: string): Effect.Effect<TensorFile | undefined, ModelFileError, Scope.Scope> =>
  Effect.gen(function* () {
    const entries: Array<string> = yield* attempt(folder, () =>
      readdir(folder).catch((cause: NodeJS.ErrnoException) =>
        cause.code === "ENOENT" ? [] : Promise.reject(cause),
      ),
    )
    if (entries.length === 0) return undefined
    for (const base of ["diffusion_pytorch_model", "model"]) {
      const single = weightNames(base).find((name) => entries.includes(name))
      if (single !== undefined) return yield* openModelFile(join(folder, single))
      const index = [`${base}.safetensors.index.json`, `${base}.bin.index.json`].find((name) =>
        entries.includes(name),
      )
      if (index !== undefined) {
        const indexPath = join(folder, index)
        const parsed = yield* attempt(
          indexPath,
          async () => JSON.parse(await readFile(indexPath, "utf8")) as unknown,
        )
        const weightMap = (parsed as { weight_map?: Record<string, string> }).weight_map
        if (typeof weightMap !== "object" || weightMap === null) {
          return yield* new CheckpointFormatError({ file: indexPath, detail: "has no weight_map" })
        }
        const shards = [...new Set(Object.values(weightMap))]
        const files = yield* Effect.forEach(shards, (shard) => openModelFile(join(folder, shard)))
        return yield* mergeTensorFiles(folder, files)
      }
    }
    return undefined
  })

const readJson = (path: string): Effect.Effect<unknown, FileAccessError> =>
  attempt(path, async () => {
    try {
      return JSON.parse(await readFile(path, "utf8")) as unknown
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined
      throw cause
    }
  })

/** Opens the parts of a diffusers folder (`unet/`, `vae/`, `text_encoder/`, `text_encoder_2/`, `scheduler/`). */
export const openDiffusersFolder = (
  folder: string,
): Effect.Effect<DiffusersParts, ModelFileError, Scope.Scope> =>
  Effect.gen(function* () {
    const unet = yield* openComponent(join(folder, "unet"))
    const vae = yield* openComponent(join(folder, "vae"))
    const textEncoder = yield* openComponent(join(folder, "text_encoder"))
    const textEncoder2 = yield* openComponent(join(folder, "text_encoder_2"))
    const schedulerConfig = yield* readJson(join(folder, "scheduler", "scheduler_config.json"))
    if (unet === undefined && vae === undefined && textEncoder === undefined) {
      return yield* new FileAccessError({
        path: folder,
        detail:
          "is a folder but not a diffusers model (no unet/, vae/ or text_encoder/ weights); pass a checkpoint file or a diffusers folder",
      })
    }
    return {
      ...(unet === undefined ? {} : { unet }),
      ...(vae === undefined ? {} : { vae }),
      ...(textEncoder === undefined ? {} : { textEncoder }),
      ...(textEncoder2 === undefined ? {} : { textEncoder2 }),
      ...(schedulerConfig === undefined ? {} : { schedulerConfig }),
    }
  })

/** Inspects a checkpoint file, a LoRA file or a diffusers folder. */
export const inspectModelPath = (path: string): Effect.Effect<ModelInspection, ModelFileError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const info = yield* attempt(path, () => stat(path))
      if (!info.isDirectory()) return yield* inspectTensorFile(yield* openModelFile(path))
      const parts = yield* openDiffusersFolder(path)
      const checkpoint = yield* detectDiffusersFolder(parts)
      const format = (parts.unet ?? parts.vae ?? parts.textEncoder)!.format
      return { kind: "checkpoint" as const, file: path, format, checkpoint }
    }),
  )

/**
 * Converts a checkpoint (`.ckpt`/`.pt`/`.bin`, or another safetensors file) to safetensors, keeping dtypes,
 * with an atomic write. An existing output is refused unless `existing` is "backup".
 */
export const convertCheckpointFile = (
  input: string,
  output: string,
  options: { readonly existing: ExistingFile; readonly metadata?: Readonly<Record<string, string>> },
): Effect.Effect<AtomicWriteResult, ModelFileError | OutputExists> =>
  Effect.scoped(
    Effect.gen(function* () {
      const file = yield* openModelFile(input)
      return yield* writeFileAtomic(output, (sink) => convertToSafetensors(file, sink, options.metadata), {
        existing: options.existing,
      })
    }),
  )
