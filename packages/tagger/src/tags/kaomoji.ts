/**
 * Tags whose underscores are part of the face, not word separators. This is the list the WD tagger's
 * author ships in the reference demo and that the A1111 tagger extension uses as its default exclusion.
 */
export const kaomoji: ReadonlySet<string> = new Set([
  "0_0",
  "(o)_(o)",
  "+_+",
  "+_-",
  "._.",
  "<o>_<o>",
  "<|>_<|>",
  "=_=",
  ">_<",
  "3_3",
  "6_9",
  ">_o",
  "@_@",
  "^_^",
  "o_o",
  "u_u",
  "x_x",
  "|_|",
  "||_||",
])
