export {
  DRAWS_PER_STEP,
  drawOffset,
  fillKey,
  normalF32,
  type PhiloxCounter,
  type PhiloxKey,
  philoxBlock,
  philoxUint32,
  splitSeed,
  uniformF32,
  uniformFromUint32,
  type Word64,
} from "./philox.js"
export { SeedSequence, type SeedSequenceOptions } from "./seedSequence.js"
