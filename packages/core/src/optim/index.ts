export { type AdamWOptions, adamW, momentNames, type StepScalars, type Trainable } from "./adamW.js"
