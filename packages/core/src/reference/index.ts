export { compileExact, evaluateExact, exactDevice } from "./evaluate.js"
export { referenceKernels } from "./kernels/index.js"
export { layer, makeReferenceBackend, referenceCapabilities, referenceDevice } from "./ReferenceBackend.js"
export { type RefArray, refFromHost, refToHost } from "./storage.js"
