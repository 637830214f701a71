export { danlu, runDanlu } from "./cli.js"
export { isUserFacing, UserError } from "./userError.js"
export { version } from "./version.js"
