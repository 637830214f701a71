export { type AdafactorOptions, adafactor } from "./adafactor.js"
export {
  type AdamWOptions,
  adamW,
  adamWOptimizer,
  momentNames,
  momentPacks,
  packElementsDefault,
  packedDType,
  type StepScalars,
  type Trainable,
} from "./adamW.js"
export { type AdamW8bitOptions, adamW8bit, blockCount8bit, blockSize8bit } from "./adamW8bit.js"
export { type DAdaptAdamOptions, dadaptAdam } from "./dadaptAdam.js"
export { type DAdaptAdamPreprintOptions, dadaptAdamPreprint } from "./dadaptAdamPreprint.js"
export { dynamicMap } from "./dynamicMap.js"
export { LrScheduleConfigError, OptimizerConfigError } from "./errors.js"
export { type LionOptions, lion } from "./lion.js"
export * from "./lrSchedule.js"
export { loadOptimizer, makeOptimizer, optimizerTypes } from "./makeOptimizer.js"
export {
  groupStateName,
  type LrRole,
  type Optimizer,
  type ParamGroup,
  type ParamSpec,
  paramSpec,
  paramStateName,
  stateOwner,
} from "./optimizer.js"
export { type PyValue, parsePyLiteral } from "./optimizerArgs.js"
export { type ProdigyOptions, prodigy } from "./prodigy.js"
export { type SgdOptions, sgd } from "./sgd.js"
