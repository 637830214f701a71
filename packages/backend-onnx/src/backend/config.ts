import type { CompositeOp } from "@danlu/core"
import type { ExecutionProvider } from "../runtime/executionProviders.js"

/** How the ONNX Runtime backend runs. Every field is optional; the defaults suit a CPU-only machine. */
export interface OnnxBackendConfig {
  /** Providers in order of preference (default `["cpu"]`); the CPU provider is always added last. */
  readonly executionProviders?: ReadonlyArray<ExecutionProvider>
  /** What a configured provider that cannot start here does: drop to the CPU with a warning (default) or fail. */
  readonly fallback?: "cpu" | "error"
  /** Threads one op may use (ONNX Runtime's intra-op pool); default: ONNX Runtime's choice (all cores). */
  readonly intraOpThreads?: number
  /** Threads running independent nodes at once; default 1 (sequential execution). */
  readonly interOpThreads?: number
  /** Composites lowered to fused ONNX ops (default: all); the rest run core's decomposition. */
  readonly fused?: ReadonlyArray<CompositeOp>
  /** Compiled programs kept for reuse once nothing holds them (default 16), one per graph shape. */
  readonly cachedPrograms?: number
  /** ONNX Runtime's graph optimisation level (default `"all"`). */
  readonly graphOptimizationLevel?: "disabled" | "basic" | "extended" | "layout" | "all"
  /**
   * A folder where each optimised model is saved, keyed by a hash of the graph, the lowering, the runtime
   * and the machine, and loaded without lowering or optimising the next time the same graph is compiled
   * (default: none).
   */
  readonly compileCacheDir?: string
  /** ONNX Runtime's CPU memory arena (default on): off returns freed memory to the system sooner. */
  readonly enableCpuMemArena?: boolean
  /**
   * ONNX Runtime's memory pattern (default off): one block per run planned from the first run's sizes. On
   * the SD1.5 LoRA step (fp16 weights) it cost 3.8 GiB of peak RSS and no speed (ADR 0011).
   */
  readonly enableMemPattern?: boolean
  /**
   * ONNX Runtime graph transformers to skip, by name (its `optimization.disable_specified_optimizers`).
   * Default `["CommonSubexpressionElimination"]`: it merges what a training graph recomputes on purpose
   * (checkpointed blocks, half weights cast again at each use) back into the forward pass, and keeps the
   * merged values alive until the backward pass (SD1.5 LoRA step: 16.8 → 12.3 GiB peak RSS without it;
   * ADR 0011). `[]` runs every transformer.
   */
  readonly disabledOptimizers?: ReadonlyArray<string>
}
