/** One of the guide's remedies (过拟合与欠拟合诊断), in English and in the guide's words. */
export interface Remedy {
  readonly code: string
  readonly en: string
  readonly zh: string
}

/** 欠拟合 (output shows no clear style): 增大学习率、增加轮数、扩充数据集. */
export const underFitRemedies: ReadonlyArray<Remedy> = [
  { code: "raise-learning-rate", en: "raise the learning rate", zh: "增大学习率" },
  { code: "more-epochs", en: "train more epochs", zh: "增加轮数" },
  { code: "more-data", en: "add more training images", zh: "扩充数据集" },
]

/** 过拟合 (output copies the training images, no new poses): 降低学习率、减少轮数、提高 Alpha 值、增强数据多样性. */
export const overFitRemedies: ReadonlyArray<Remedy> = [
  { code: "lower-learning-rate", en: "lower the learning rate", zh: "降低学习率" },
  { code: "fewer-epochs", en: "train fewer epochs", zh: "减少轮数" },
  { code: "raise-alpha", en: "raise network alpha", zh: "提高 Alpha 值" },
  { code: "more-variety", en: "make the training images more varied", zh: "增强数据多样性" },
]
