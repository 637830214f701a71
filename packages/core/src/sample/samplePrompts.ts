import { Data } from "effect"
import type { SamplerChoice } from "./samplerNames.js"

/** One line of kohya's `--sample_prompts` file, with kohya's defaults filled in. */
export interface SamplePrompt {
  readonly prompt: string
  readonly negativePrompt: string
  readonly width: number
  readonly height: number
  /** undefined: a random seed each time, as kohya. */
  readonly seed: number | undefined
  readonly steps: number
  readonly cfgScale: number
  /** kohya's sampler name for this prompt (`--ss`), or undefined for `--sample_sampler`. */
  readonly sampler: string | undefined
}

export class SamplePromptError extends Data.TaggedError("SamplePromptError")<{
  readonly line: number
  readonly detail: string
}> {
  override get message(): string {
    return `sample prompt line ${this.line}: ${this.detail}`
  }
}

const toSize = (value: number) => Math.max(64, value - (value % 8))

/**
 * kohya's `line_to_prompt_dict`: a line split on " --"; every part (the first included) is matched at its
 * start against `w`, `h`, `d`, `s`, `l`, `n`, `ss`; the first part is also the prompt. Defaults: 512×512, 30 steps
 * (clamped to 1…1000), CFG 7.5, no negative prompt, a random seed. Sizes round down to a multiple of 8
 * (at least 64). Unknown options are kept out of the prompt, as kohya ignores them.
 */
export const parseSamplePromptLine = (text: string, line = 1): SamplePrompt => {
  const parts = text.split(" --")
  const prompt = parts[0]!.trim()
  const values = {
    negativePrompt: "",
    width: 512,
    height: 512,
    seed: undefined as number | undefined,
    steps: 30,
    cfgScale: 7.5,
    sampler: undefined as string | undefined,
  }
  const number = (value: string, what: string) => {
    const n = Number(value.trim())
    if (!Number.isFinite(n))
      throw new SamplePromptError({ line, detail: `${what} "${value.trim()}" is not a number` })
    return n
  }
  for (const part of parts) {
    const match = /^(ss|w|h|d|s|l|n) (.+)$/is.exec(part)
    if (!match) continue
    const [, key, value] = match as unknown as [string, string, string]
    switch (key.toLowerCase()) {
      case "w":
        values.width = toSize(number(value, "width"))
        break
      case "h":
        values.height = toSize(number(value, "height"))
        break
      case "d":
        values.seed = Math.trunc(number(value, "seed"))
        break
      case "s":
        values.steps = Math.min(1000, Math.max(1, Math.trunc(number(value, "steps"))))
        break
      case "l":
        values.cfgScale = number(value, "CFG scale")
        break
      case "n":
        values.negativePrompt = value.trim()
        break
      case "ss":
        values.sampler = value.trim()
    }
  }
  return { prompt, ...values }
}

/** A `.txt` prompt file: one prompt per line; blank lines and `#` comments skipped. */
export const parseSamplePrompts = (text: string): ReadonlyArray<SamplePrompt> =>
  text
    .split(/\r?\n/)
    .map((line, index) => ({ line: line.trim(), number: index + 1 }))
    .filter(({ line }) => line !== "" && !line.startsWith("#"))
    .map(({ line, number }) => parseSamplePromptLine(line, number))

/** kohya's `--sample_sampler` names (diffusers schedulers) as the A1111 samplers danlu runs. */
const kohyaSamplers: Readonly<Record<string, SamplerChoice>> = {
  ddim: { sampler: "DDIM", scheduler: "automatic" },
  euler: { sampler: "Euler", scheduler: "automatic" },
  k_euler: { sampler: "Euler", scheduler: "automatic" },
  euler_a: { sampler: "Euler a", scheduler: "automatic" },
  k_euler_a: { sampler: "Euler a", scheduler: "automatic" },
  heun: { sampler: "Heun", scheduler: "automatic" },
  dpmsolver: { sampler: "DPM++ 2M", scheduler: "automatic" },
  "dpmsolver++": { sampler: "DPM++ 2M", scheduler: "automatic" },
  "dpm++ 2m": { sampler: "DPM++ 2M", scheduler: "automatic" },
  "dpm++ 2m karras": { sampler: "DPM++ 2M", scheduler: "karras" },
}

/** The sampler for a kohya sampler name; undefined for the ones danlu does not run (pndm, lms, dpm_2, …). */
export const kohyaSampler = (name: string): SamplerChoice | undefined =>
  kohyaSamplers[name.trim().toLowerCase()]

/** kohya's sampler names danlu runs. */
export const kohyaSamplerNames: ReadonlyArray<string> = Object.keys(kohyaSamplers)
