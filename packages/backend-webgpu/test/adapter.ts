import { backendRequired } from "@danlu/core/testing"
import { Effect, Exit } from "effect"
import { acquireDevice } from "../src/device/acquireDevice.js"

/**
 * Why WebGPU cannot run here, or undefined when it can. Where CI requires the backend
 * (`DANLU_REQUIRE_BACKENDS`), a missing adapter throws instead, so the suite fails rather than skips.
 */
export const unavailableReason = async (): Promise<string | undefined> => {
  const exit = await Effect.runPromiseExit(Effect.scoped(acquireDevice()))
  if (Exit.isSuccess(exit)) return undefined
  const reason = String(exit.cause)
  if (backendRequired("webgpu")) throw new Error(`webgpu must be available here: ${reason}`)
  console.warn(`webgpu tests skipped: ${reason}`)
  return reason
}
