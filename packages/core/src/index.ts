/**
 * @danlu/core — lazy tensors recorded into graphs, autodiff on the graph, the `Backend` service and the
 * reference executor that every backend is measured against.
 */

export { checkpoint } from "./autodiff/checkpoint.js"
export { grad, vjp } from "./autodiff/grad.js"
export { type VjpRule, vjpRules } from "./autodiff/vjp.js"
export { type ActivationPool, makeActivationPool, type PoolLease } from "./backend/activationPool.js"
export { asBackendError } from "./backend/asBackendError.js"
export {
  Backend,
  type BackendInfo,
  type BackendShape,
  type Capabilities,
  type DeviceBuffer,
  type DeviceInfo,
  type Program,
} from "./backend/Backend.js"
export { bindingProblem } from "./backend/bindingProblem.js"
export { bindRun, foreignBuffer, type RunBinding } from "./backend/bindRun.js"
export {
  bindLaunches,
  type KernelBackend,
  type KernelBackendOptions,
  launchPlan,
  makeKernelBackend,
} from "./backend/executor.js"
export {
  type ImmediateLaunch,
  type ImmediateRecording,
  type ImmediateStorage,
  immediateDevice,
} from "./backend/immediate.js"
export { type BoundCopy, type BoundLaunch, KernelBuffer, type KernelDevice } from "./backend/kernelDevice.js"
export type {
  FusedKernels,
  FusedLaunchers,
  Kernel,
  KernelOp,
  KernelTable,
  Launcher,
  LauncherTable,
} from "./backend/kernels.js"
export {
  type ExecutionPlan,
  type PlanStep,
  type PlanTarget,
  planExecution,
  type SizeClasses,
  type SlotSpec,
} from "./backend/plan.js"
export { makeProgramCache, type ProgramCache } from "./backend/programCache.js"
export * from "./errors.js"
export { type AnalyzedGraph, analyzeGraph, type Graph, type TensorSpec } from "./graph/graph.js"
export { graphKey, graphSignature } from "./graph/graphKey.js"
export { lowerComposites } from "./graph/lowerComposites.js"
export { topologicalOrder } from "./graph/topologicalOrder.js"
export * from "./io/index.js"
export * from "./lora/index.js"
export * from "./models/index.js"
export * from "./nn/index.js"
export type { CompositeAttrs, CompositeOp } from "./ops/composites.js"
export { compositeOps } from "./ops/composites.js"
export * as T from "./ops/index.js"
export type { OpAttrs, OpName } from "./ops/opName.js"
export type { BinaryOp, ConvAttrs, PrimitiveAttrs, PrimitiveOp, UnaryOp } from "./ops/primitives.js"
export { primitiveOps } from "./ops/primitives.js"
export * from "./optim/index.js"
export * from "./progress/progress.js"
export { type CompiledGraph, openSession, type Session } from "./promise/session.js"
export * as Random from "./random/index.js"
export * as Reference from "./reference/index.js"
export * as Sample from "./sample/index.js"
export { type DType, dtypes, isFloat } from "./tensor/dtype.js"
export {
  fromBF16Bits,
  fromF16Bits,
  roundToBF16,
  roundToF16,
  toBF16Bits,
  toF16Bits,
} from "./tensor/halfFloat.js"
export { type HostTensor, hostTensor, zerosHost } from "./tensor/hostTensor.js"
export { formatShape, type Shape, sizeOf } from "./tensor/shape.js"
export { Tensor } from "./tensor/tensor.js"
export * from "./text/index.js"
export * from "./train/index.js"
