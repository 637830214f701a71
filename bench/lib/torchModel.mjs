// danlu's tiny and SD1.5 models in the arguments of the PyTorch reference (tools/reference/ldm_unet.py's
// UNetModel, clip_text.py's HFTextModel), for the benchmarks' PyTorch side.
export const torchModel = async (size) => {
  const core = await import("@danlu/core")
  const a = size === "sd15" ? core.standardArchitecture("sd1") : core.tinyArchitecture("sd1")
  const u = a.unet
  const c = a.text[0]
  return {
    unet: {
      in_channels: u.inChannels,
      model_channels: u.modelChannels,
      out_channels: u.outChannels,
      num_res_blocks: u.numResBlocks,
      attention_resolutions: u.attentionResolutions,
      channel_mult: u.channelMult,
      num_heads: u.numHeads,
      transformer_depth: u.transformerDepth,
      context_dim: u.contextDim,
    },
    clip: {
      vocab: c.vocabSize,
      positions: c.maxPositions,
      width: c.width,
      heads: c.heads,
      layers: c.layers,
      mlp_width: c.mlpWidth,
    },
  }
}
