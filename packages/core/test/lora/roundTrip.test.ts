import { Effect } from "effect"
import { describe, expect, test } from "vitest"
import { grad } from "../../src/autodiff/grad.js"
import { memorySink, memorySource, openSafetensors } from "../../src/io/index.js"
import {
  aliasTable,
  importLora,
  kohyaMetadata,
  LoraNetwork,
  loraDownName,
  loraUpName,
  mergeLora,
  writeKohyaLora,
} from "../../src/lora/index.js"
import { tinySd1UNet, unet, unetPrefix } from "../../src/models/index.js"
import { type ModuleAdapter, WeightScope } from "../../src/nn/index.js"
import * as T from "../../src/ops/index.js"
import { compileExact, evaluateExact, refFromHost } from "../../src/reference/index.js"
import { type HostTensor, hostTensor } from "../../src/tensor/hostTensor.js"
import type { Tensor } from "../../src/tensor/tensor.js"
import { relativeError } from "../../src/testing/golden.js"
import { hashedUniform, syntheticFeeds } from "../../src/testing/syntheticWeights.js"

const config = { ...tinySd1UNet, numResBlocks: 1 }
const shapes = { x: [1, 4, 8, 8], timesteps: [1], context: [1, 8, 32] } as const
const inputs = {
  x: hashedUniform("lora.x", 256),
  timesteps: Float64Array.of(321),
  context: hashedUniform("lora.context", 256),
}

/** Builds the tiny UNet with the given adapters; returns its output and scope. */
const build = (adapters: ReadonlyArray<ModuleAdapter> = []) => {
  const scope = WeightScope.root({ adapters })
  const out = unet(scope.at(unetPrefix), config, {
    x: T.input("x", shapes.x),
    timesteps: T.input("timesteps", shapes.timesteps),
    context: T.input("context", shapes.context),
  })
  return { scope, out }
}

const toF32 = (values: Float64Array, shape: ReadonlyArray<number>): HostTensor<"f32"> =>
  hostTensor("f32", shape, Float32Array.from(values))

describe("a trained LoRA survives export, import and merge", () => {
  const network = LoraNetwork.create({ rank: 4, alpha: 2, convRank: 2, convAlpha: 1, components: ["unet"] })
  const { scope, out } = build([network.adapter])
  const base = syntheticFeeds(scope.manifest())

  // A few SGD steps towards a fixed target: enough to move every LoRA away from its no-op start.
  const target = T.input("target", out.shape)
  const loss = T.mean(T.square(T.sub(out, target)))
  const names = [...network.tensors().keys()]
  const step = compileExact([loss, ...grad(loss, [...network.tensors().values()])])
  const weights: Record<string, Float64Array> = Object.fromEntries(
    Object.entries(network.initialWeights(7)).map(([name, t]) => [name, Float64Array.from(t.data)]),
  )
  const losses: Array<number> = []
  for (let i = 0; i < 4; i++) {
    const [lossValue, ...grads] = step({
      ...base,
      ...inputs,
      ...weights,
      target: hashedUniform("lora.target", 256),
    })
    losses.push(lossValue![0]!)
    names.forEach((name, j) => {
      const w = weights[name]!
      const g = grads[j] as Float64Array
      for (let k = 0; k < w.length; k++) w[k] = w[k]! - 2 * g[k]!
    })
  }
  const trained = Object.fromEntries(
    network.modules().flatMap((m) => [
      [loraDownName(m.name), toF32(weights[loraDownName(m.name)]!, m.downShape)],
      [loraUpName(m.name), toF32(weights[loraUpName(m.name)]!, m.upShape)],
    ]),
  )
  const trainedFeeds = Object.fromEntries(Object.entries(trained).map(([n, t]) => [n, refFromHost(t)]))
  const [unmerged] = evaluateExact([out], { ...base, ...inputs, ...trainedFeeds })

  const sink = memorySink("lora.safetensors")
  const metadata = kohyaMetadata({
    family: "sd1",
    rank: 4,
    alpha: 2,
    convRank: 2,
    convAlpha: 1,
    title: "t",
    resolution: [64, 64],
  })
  Effect.runSync(writeKohyaLora(sink, network.moduleWeights(trained), metadata, "F32"))
  const file = Effect.runSync(openSafetensors(memorySource(sink.bytes(), "lora.safetensors")))

  test("training lowers the loss", () => {
    expect(losses[3]!).toBeLessThan(losses[0]!)
  })

  test("the file has kohya keys and string metadata, and every key names a real module of the base model", () => {
    expect(file.tensors.length).toBe(3 * network.modules().length)
    // 7 spatial transformers × 12 layers, 8 res blocks × 3, 5 conv_shortcut, 1 downsampler, 1 upsampler
    expect(network.modules().length).toBe(7 * 12 + 8 * 3 + 5 + 2)
    const table = aliasTable(scope.modules())
    for (const { name } of file.tensors) {
      const module = name.replace(/\.(lora_down\.weight|lora_up\.weight|alpha)$/, "")
      expect(module).toMatch(/^lora_unet_(down_blocks|mid_block|up_blocks)_/)
      expect(scope.manifest().has(table.get(module)!.weightKey)).toBe(true)
    }
    expect(file.metadata.ss_network_dim).toBe("4")
    expect(file.metadata.ss_network_args).toBe('{"conv_dim":"2","conv_alpha":"1"}')
    expect(file.metadata.ss_base_model_version).toBe("sd_v1")
    expect(file.metadata["modelspec.architecture"]).toBe("stable-diffusion-v1/lora")
    for (const value of Object.values(file.metadata)) expect(typeof value).toBe("string")
  })

  test("imported and merged into the base weights, it gives the unmerged network's output", () => {
    const imported = Effect.runSync(importLora(file, scope.modules()))
    expect(imported.format).toBe("locon")
    expect(imported.modules.length).toBe(network.modules().length)
    const baseHost = new Map(
      Object.entries(base).map(([k, v]) => [k, toF32(v, scope.manifest().get(k)!.shape)]),
    )
    const merged = mergeLora(baseHost, imported.modules)
    const plain = build()
    const mergedFeeds = { ...base, ...Object.fromEntries([...merged].map(([k, t]) => [k, refFromHost(t)])) }
    const [mergedOut] = evaluateExact([plain.out], { ...mergedFeeds, ...inputs })
    const [baseOut] = evaluateExact([plain.out], { ...base, ...inputs })
    expect(relativeError(baseOut!, unmerged!)).toBeGreaterThan(1e-2)
    expect(relativeError(mergedOut!, unmerged!)).toBeLessThan(1e-5)

    // The imported weights applied unmerged at multiplier 0.5 equal a merge at weight 0.5.
    const half = LoraNetwork.fromWeights(imported.modules, { multiplier: 0.5 })
    const halfBuild = build([half.adapter])
    const halfFeeds = Object.fromEntries(
      imported.modules.flatMap((m) => [
        [loraDownName(m.name), refFromHost(m.down)],
        [loraUpName(m.name), refFromHost(m.up)],
      ]),
    )
    const [halfOut] = evaluateExact([halfBuild.out], { ...base, ...inputs, ...halfFeeds })
    const halfMerged = mergeLora(baseHost, imported.modules, 0.5)
    const [halfMergedOut] = evaluateExact([plain.out], {
      ...base,
      ...Object.fromEntries([...halfMerged].map(([k, t]) => [k, refFromHost(t)])),
      ...inputs,
    })
    expect(relativeError(halfMergedOut!, halfOut!)).toBeLessThan(1e-5)
  })

  test("diffusers/PEFT and SGM-named kohya keys import to the same layers", () => {
    const imported = Effect.runSync(importLora(file, scope.modules())).modules.filter(
      (m) => m.module.kind === "linear",
    )
    const tensors: Record<string, { dtype: "F32"; shape: ReadonlyArray<number>; bytes: Uint8Array }> = {}
    const put = (name: string, t: HostTensor<"f32">) => {
      tensors[name] = { dtype: "F32", shape: t.shape, bytes: new Uint8Array(t.data.buffer.slice(0)) }
    }
    const [first, second] = imported as [(typeof imported)[0], (typeof imported)[0]]
    put(`unet.${first.module.diffusersPath}.lora_A.weight`, first.down)
    put(`unet.${first.module.diffusersPath}.lora_B.weight`, first.up)
    put(`lora_unet_${second.module.path.replaceAll(".", "_")}.lora_down.weight`, second.down)
    put(`lora_unet_${second.module.path.replaceAll(".", "_")}.lora_up.weight`, second.up)
    const handMade = {
      name: "peft.safetensors",
      format: "safetensors" as const,
      metadata: {},
      tensors: Object.entries(tensors).map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })),
      read: (name: string) => Effect.succeed(tensors[name]!),
    }
    const peft = Effect.runSync(importLora(handMade, scope.modules(), { peftAlpha: 2 }))
    expect(peft.format).toBe("diffusers-peft")
    expect(peft.modules.map((m) => m.module.weightKey).sort()).toEqual(
      [first.module.weightKey, second.module.weightKey].sort(),
    )
    expect(peft.modules.map((m) => m.name).sort()).toEqual([first.name, second.name].sort())
    expect(peft.modules.every((m) => m.alpha === 2)).toBe(true)
  })

  test("a LoRA for another model is refused with the names that match nothing", () => {
    const stray = {
      ...file,
      tensors: [
        {
          name: "lora_unet_input_blocks_40_1_proj_in.lora_down.weight",
          dtype: "F32" as const,
          shape: [4, 32],
        },
      ],
      read: () => Effect.succeed({ dtype: "F32" as const, shape: [4, 32], bytes: new Uint8Array(512) }),
    }
    const result = Effect.runSync(Effect.flip(importLora(stray, scope.modules())))
    expect(result._tag).toBe("LoraFormatError")
    expect(result.message).toContain("lora_unet_input_blocks_40_1_proj_in")
    expect(result.message).toContain("another model family")
  })
})

test("a Tucker (lora_mid) LoCon merge equals running down → mid → up as convolutions", () => {
  const [r, cin, cout] = [2, 3, 4]
  const values = (key: string, shape: ReadonlyArray<number>) =>
    toF32(
      hashedUniform(
        key,
        shape.reduce((a, b) => a * b, 1),
      ),
      shape,
    )
  const down = values("mid.down", [r, cin, 1, 1])
  const mid = values("mid.mid", [r, r, 3, 3])
  const up = values("mid.up", [cout, r, 1, 1])
  const module = {
    kind: "conv2d" as const,
    component: "unet",
    path: "c",
    diffusersPath: "c",
    weightKey: "c.weight",
    weightRows: undefined,
    inFeatures: cin,
    outFeatures: cout,
    kernel: [3, 3] as const,
    stride: [1, 1] as const,
    padding: [1, 1] as const,
    within: [],
  }
  const zero = toF32(new Float64Array(cout * cin * 9), [cout, cin, 3, 3])
  const merged = mergeLora({ "c.weight": zero }, [
    { name: "lora_unet_c", module, rank: r, alpha: r, down, up, mid },
  ])
  const x = T.input("x", [1, cin, 5, 5])
  const chain: Tensor = T.conv2d(
    T.conv2d(T.conv2d(x, T.input("down", down.shape)), T.input("mid", mid.shape), { padding: 1 }),
    T.input("up", up.shape),
  )
  const direct = T.conv2d(x, T.input("w", [cout, cin, 3, 3]), { padding: 1 })
  const feeds = {
    x: hashedUniform("mid.x", 75),
    down: refFromHost(down),
    mid: refFromHost(mid),
    up: refFromHost(up),
    w: refFromHost(merged.get("c.weight")!),
  }
  const [a, b] = evaluateExact([chain, direct], feeds)
  expect(relativeError(b!, a!)).toBeLessThan(1e-6)
})
