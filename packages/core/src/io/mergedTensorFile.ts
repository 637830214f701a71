import { Effect } from "effect"
import { CheckpointFormatError } from "./errors.js"
import type { TensorFile } from "./tensorFile.js"

/** Several files seen as one (the shards of a sharded diffusers weight file). Names must not repeat. */
export const mergeTensorFiles = (
  name: string,
  files: ReadonlyArray<TensorFile>,
): Effect.Effect<TensorFile, CheckpointFormatError> =>
  Effect.gen(function* () {
    const owner = new Map<string, TensorFile>()
    for (const file of files) {
      for (const tensor of file.tensors) {
        if (owner.has(tensor.name)) {
          return yield* new CheckpointFormatError({
            file: name,
            detail: `tensor "${tensor.name}" appears in more than one shard`,
          })
        }
        owner.set(tensor.name, file)
      }
    }
    return {
      name,
      format: files[0]?.format ?? "safetensors",
      metadata: Object.assign({}, ...files.map((file) => file.metadata)),
      tensors: files.flatMap((file) => file.tensors),
      read: (tensorName) =>
        owner.get(tensorName)?.read(tensorName) ??
        Effect.fail(new CheckpointFormatError({ file: name, detail: `has no tensor named "${tensorName}"` })),
    } satisfies TensorFile
  })
