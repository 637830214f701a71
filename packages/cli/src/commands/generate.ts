import { Sample } from "@danlu/core"
import { generateImages } from "@danlu/dataset"
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { chooseBackend } from "../backends/chooseBackend.js"
import { showProgress } from "../progress/showProgress.js"
import { version } from "../version.js"

/** The flags `generate` and `xyz` share, with A1111's defaults. */
export const drawFlags = {
  model: Flag.String("model").pipe(Flag.withDescription("the base checkpoint (.safetensors or .ckpt)")),
  negative: Flag.String("negative").pipe(Flag.withDefault(""), Flag.withDescription("negative prompt")),
  sampler: Flag.String("sampler").pipe(
    Flag.withDefault("DPM++ 2M"),
    Flag.withDescription(`A1111 sampler name: ${Sample.samplerNames.join(", ")} (e.g. "DPM++ 2M Karras")`),
  ),
  scheduler: Flag.Literals("scheduler", Sample.schedulerNames).pipe(
    Flag.withDefault("automatic"),
    Flag.withDescription("schedule type (automatic: the sampler's own)"),
  ),
  steps: Flag.Int("steps").pipe(Flag.withDefault(20), Flag.withDescription("sampling steps")),
  cfg: Flag.Finite("cfg").pipe(Flag.withDefault(7), Flag.withDescription("CFG scale")),
  seed: Flag.Int("seed").pipe(
    Flag.optional,
    Flag.withDescription("seed of the first picture (default or -1: random; xyz defaults to 1)"),
  ),
  width: Flag.Int("width").pipe(Flag.withDefault(512), Flag.withDescription("picture width in pixels")),
  height: Flag.Int("height").pipe(Flag.withDefault(512), Flag.withDescription("picture height in pixels")),
  clipSkip: Flag.Int("clip-skip").pipe(
    Flag.optional,
    Flag.withDescription("A1111 clip skip (1 = last layer)"),
  ),
  rng: Flag.Literals("rng", Sample.rngNames).pipe(
    Flag.withDefault("philox"),
    Flag.withDescription("noise source: philox (same on every backend) or nv (A1111/ComfyUI on NVIDIA)"),
  ),
  backend: Flag.String("backend").pipe(
    Flag.withDefault("onnxruntime"),
    Flag.withDescription("reference, onnxruntime or webgpu (see danlu backends)"),
  ),
}

/** What the shared draw flags say, as `generateImages`/`runXyz` settings (A1111's names). */
export const drawSettings = (options: {
  readonly model: string
  readonly negative: string
  readonly sampler: string
  readonly scheduler: string
  readonly steps: number
  readonly cfg: number
  readonly seed: Option.Option<number>
  readonly width: number
  readonly height: number
  readonly clipSkip: Option.Option<number>
  readonly rng: Sample.RngName
}) => {
  const seed = Option.getOrUndefined(options.seed)
  const clipSkip = Option.getOrUndefined(options.clipSkip)
  return {
    model: options.model,
    negativePrompt: options.negative,
    sampler: options.sampler,
    scheduler: options.scheduler,
    steps: options.steps,
    cfgScale: options.cfg,
    rng: options.rng,
    width: options.width,
    height: options.height,
    version: `danlu ${version}`,
    ...(seed === undefined ? {} : { seed }),
    ...(clipSkip === undefined ? {} : { clipSkip }),
  }
}

export const generate = Command.make(
  "generate",
  {
    ...drawFlags,
    prompt: Flag.String("prompt").pipe(
      Flag.withDescription("A1111 prompt; <lora:name:weight> loads name.safetensors from --lora-dir"),
    ),
    loraDir: Flag.String("lora-dir").pipe(Flag.optional, Flag.withDescription("folder of LoRA files")),
    batch: Flag.Int("batch").pipe(
      Flag.withDefault(1),
      Flag.withDescription("pictures drawn together (seeds seed, seed+1, …)"),
    ),
    out: Flag.String("out").pipe(Flag.withDescription("output folder; files are named 00000-<seed>.png")),
  },
  (options) =>
    Effect.gen(function* () {
      const backend = yield* chooseBackend(options.backend)
      const loraDir = Option.getOrUndefined(options.loraDir)
      const started = Date.now()
      const images = yield* generateImages({
        ...drawSettings(options),
        prompt: options.prompt,
        batch: options.batch,
        outDir: options.out,
        ...(loraDir === undefined ? {} : { loraDir }),
      }).pipe(Effect.scoped, showProgress({ json: false }), Effect.provide(backend))
      for (const image of images) {
        yield* Console.log(
          `${image.file}${image.nonFinite ? "  (broken: NaN in the latents or pixels)" : ""}`,
        )
      }
      yield* Console.log(
        `${images.length} picture(s) in ${((Date.now() - started) / 1000).toFixed(1)} s on ${options.backend}`,
      )
    }),
).pipe(
  Command.withDescription("验单 — draw pictures with a base model and LoRAs (A1111 txt2img, PNG infotext)"),
)
