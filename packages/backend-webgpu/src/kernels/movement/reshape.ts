import { bufferBytes } from "../../device/storage.js"
import { inputOperand, type Launcher, outputOperand } from "../launch.js"

/** The same bytes under another shape: one buffer copy. */
export const reshape: Launcher<"reshape"> = (node) => [
  { kind: "copy", from: inputOperand(0), to: outputOperand, bytes: bufferBytes(node) },
]
