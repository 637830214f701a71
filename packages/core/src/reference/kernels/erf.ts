/**
 * The error function to about 1e-14 (JavaScript has none): its Taylor series near zero, where it
 * converges fast, and the continued fraction of erfc in the tails.
 */
export const erf = (x: number): number => {
  if (Number.isNaN(x)) return x
  const ax = Math.abs(x)
  if (ax < 2.5) {
    let term = x
    let total = x
    const x2 = x * x
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n
      const next = term / (2 * n + 1)
      total += next
      if (Math.abs(next) < 1e-17 * Math.abs(total)) break
    }
    return (2 / Math.sqrt(Math.PI)) * total
  }
  if (ax > 6) return Math.sign(x)
  let fraction = 0
  for (let k = 60; k >= 1; k--) fraction = k / 2 / (ax + fraction)
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + fraction)
  return Math.sign(x) * (1 - erfc)
}
