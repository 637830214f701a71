// Core's own tests reach the shared synthetic weights by this path.
export { hashedUniform, synthetic, syntheticFeeds } from "../../src/testing/syntheticWeights.js"
