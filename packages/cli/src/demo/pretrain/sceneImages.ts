import sharp from "sharp"

/** An SVG rendered to `size`×`size` RGB pixels scaled to [-1, 1], channels first, as the VAE reads them. */
export const svgPixels = async (svg: string, size: number): Promise<Float32Array> => {
  const raw = await sharp(Buffer.from(svg)).resize(size, size).removeAlpha().raw().toBuffer()
  const area = size * size
  const out = new Float32Array(3 * area)
  for (let i = 0; i < area; i++) for (let c = 0; c < 3; c++) out[c * area + i] = raw[i * 3 + c]! / 127.5 - 1
  return out
}

/** Channels-first pixels in [-1, 1] (one image of a batch at `offset`) as a PNG, for previews. */
export const pixelsPng = (data: Float32Array, size: number, offset = 0): Promise<Buffer> => {
  const area = size * size
  const raw = Buffer.alloc(3 * area)
  for (let i = 0; i < area; i++)
    for (let c = 0; c < 3; c++) {
      const v = (data[offset + c * area + i]! + 1) * 127.5
      raw[i * 3 + c] = Math.max(0, Math.min(255, Math.round(v)))
    }
  return sharp(raw, { raw: { width: size, height: size, channels: 3 } })
    .png()
    .toBuffer()
}

/** Pictures side by side in a grid of `columns`, each enlarged `zoom` times (nearest), as one PNG. */
export const gridPng = async (
  tiles: ReadonlyArray<Buffer>,
  size: number,
  columns: number,
  zoom: number,
): Promise<Buffer> => {
  const cell = size * zoom
  const rows = Math.ceil(tiles.length / columns)
  const composite = await Promise.all(
    tiles.map(async (tile, i) => ({
      input: await sharp(tile).resize(cell, cell, { kernel: "nearest" }).png().toBuffer(),
      left: (i % columns) * cell,
      top: Math.floor(i / columns) * cell,
    })),
  )
  return sharp({
    create: { width: columns * cell, height: rows * cell, channels: 3, background: "#ffffff" },
  })
    .composite(composite)
    .png()
    .toBuffer()
}
