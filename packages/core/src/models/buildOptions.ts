/** How a model graph is built. */
export interface ModelBuildOptions {
  /**
   * Recompute each block (UNet ResBlocks and transformer blocks, text-encoder layers) in the backward
   * pass instead of keeping its activations, like kohya's `--gradient_checkpointing`: less memory for
   * about one more forward pass of the model.
   */
  readonly gradientCheckpointing?: boolean
}
