import packageJson from "../package.json" with { type: "json" }

/** The version of the `danlu` command, read from its package manifest. */
export const version: string = packageJson.version
