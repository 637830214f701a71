export * as onnxGraph from "./onnxGraph.js"
export { buildTinyImageEmbedder, type TinyImageEmbedder } from "./tinyImageEmbedder.js"
export {
  buildTinyWd14Model,
  meanColourWeights,
  selectedTagsCsv,
  type TinyWd14Model,
  type TinyWd14Options,
  tinyWd14Reference,
} from "./tinyWd14Model.js"
