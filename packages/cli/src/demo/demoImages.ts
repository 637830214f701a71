import sharp from "sharp"

/**
 * The demo's bundled training set, drawn from SVG so it ships as code: one pink-haired character in
 * several framings, backgrounds and aspect ratios, the kind of set the guide asks for. She fills most of each
 * picture in deep colours, so that at the bundled model's 32×32 she is still a pink-framed face over a navy body.
 */
export interface DemoImage {
  readonly name: string
  readonly width: number
  readonly height: number
  readonly background: string
  readonly scale: number
  readonly offsetX: number
}

const backgrounds = ["#ffffff", "#87ceeb", "#3cb371", "#f5deb3"] as const
const sizes = [
  [512, 512],
  [512, 768],
  [768, 512],
  [640, 640],
] as const

export const demoImages: ReadonlyArray<DemoImage> = Array.from({ length: 16 }, (_, i) => {
  const [width, height] = sizes[i % sizes.length]!
  return {
    name: `danlu-${String(i + 1).padStart(2, "0")}.png`,
    width,
    height,
    background: backgrounds[(i + Math.floor(i / 4)) % backgrounds.length]!,
    scale: 0.62 + 0.07 * ((i * 7) % 5),
    offsetX: (((i * 3) % 7) - 3) * 0.05,
  }
})

const figure = ({ width, height, background, scale, offsetX }: DemoImage): string => {
  const unit = Math.min(width, height) * scale
  const cx = width * (0.5 + offsetX)
  const cy = height * 0.55
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
  <rect width="100%" height="100%" fill="${background}"/>
  <ellipse cx="${cx}" cy="${cy + unit * 0.55}" rx="${unit * 0.45}" ry="${unit * 0.35}" fill="#1f2f7a"/>
  <circle cx="${cx}" cy="${cy - unit * 0.05}" r="${unit * 0.42}" fill="#e0207a"/>
  <circle cx="${cx}" cy="${cy + unit * 0.02}" r="${unit * 0.3}" fill="#f0b080"/>
  <circle cx="${cx - unit * 0.1}" cy="${cy}" r="${unit * 0.035}" fill="#3a2a5a"/>
  <circle cx="${cx + unit * 0.1}" cy="${cy}" r="${unit * 0.035}" fill="#3a2a5a"/>
  <path d="M ${cx - unit * 0.09} ${cy + unit * 0.12} Q ${cx} ${cy + unit * 0.19} ${cx + unit * 0.09} ${cy + unit * 0.12}" stroke="#a04060" stroke-width="${unit * 0.02}" fill="none"/>
  <path d="M ${cx - unit * 0.42} ${cy - unit * 0.05} Q ${cx - unit * 0.5} ${cy + unit * 0.5} ${cx - unit * 0.3} ${cy + unit * 0.6}" stroke="#e0207a" stroke-width="${unit * 0.12}" fill="none"/>
  <path d="M ${cx + unit * 0.42} ${cy - unit * 0.05} Q ${cx + unit * 0.5} ${cy + unit * 0.5} ${cx + unit * 0.3} ${cy + unit * 0.6}" stroke="#e0207a" stroke-width="${unit * 0.12}" fill="none"/>
</svg>`
}

export const renderDemoImage = (image: DemoImage): Promise<Buffer> =>
  sharp(Buffer.from(figure(image)))
    .flatten({ background: image.background })
    .png()
    .toBuffer()
