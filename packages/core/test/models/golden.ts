// Core's own tests reach the shared golden helpers by this path.
export { type Golden, loadGolden, relativeError } from "../../src/testing/golden.js"
