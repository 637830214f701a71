/** The pickle asks for something outside the accepted subset; `found` names it (an opcode or a global). */
export class PickleRefusal extends Error {
  constructor(readonly found: string) {
    super(found)
  }
}

/** The pickle or its container is malformed. */
export class PickleDamage extends Error {}
