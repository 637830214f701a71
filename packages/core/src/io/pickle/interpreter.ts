import { decodeLatin1, decodeUtf8 } from "../text.js"
import { PickleDamage, PickleRefusal } from "./problems.js"
import { applyGlobal, buildState, describe, instantiate, resolveGlobal } from "./torchGlobals.js"
import { type PickleValue, PyDict, PyTuple } from "./values.js"

/** Turns a persistent id (torch's storage tuple) into a value. */
export type PersistentLoad = (pid: PickleValue) => PickleValue

const opcodeNames: Readonly<Record<number, string>> = {
  40: "MARK",
  46: "STOP",
  48: "POP",
  49: "POP_MARK",
  50: "DUP",
  70: "FLOAT",
  73: "INT",
  74: "BININT",
  75: "BININT1",
  76: "LONG",
  77: "BININT2",
  78: "NONE",
  80: "PERSID",
  81: "BINPERSID",
  82: "REDUCE",
  83: "STRING",
  84: "BINSTRING",
  85: "SHORT_BINSTRING",
  86: "UNICODE",
  88: "BINUNICODE",
  97: "APPEND",
  98: "BUILD",
  99: "GLOBAL",
  100: "DICT",
  125: "EMPTY_DICT",
  101: "APPENDS",
  103: "GET",
  104: "BINGET",
  105: "INST",
  106: "LONG_BINGET",
  108: "LIST",
  93: "EMPTY_LIST",
  111: "OBJ",
  112: "PUT",
  113: "BINPUT",
  114: "LONG_BINPUT",
  115: "SETITEM",
  116: "TUPLE",
  41: "EMPTY_TUPLE",
  117: "SETITEMS",
  71: "BINFLOAT",
  128: "PROTO",
  129: "NEWOBJ",
  130: "EXT1",
  131: "EXT2",
  132: "EXT4",
  133: "TUPLE1",
  134: "TUPLE2",
  135: "TUPLE3",
  136: "NEWTRUE",
  137: "NEWFALSE",
  138: "LONG1",
  139: "LONG4",
  66: "BINBYTES",
  67: "SHORT_BINBYTES",
  140: "SHORT_BINUNICODE",
  141: "BINUNICODE8",
  142: "BINBYTES8",
  143: "EMPTY_SET",
  144: "ADDITEMS",
  145: "FROZENSET",
  146: "NEWOBJ_EX",
  147: "STACK_GLOBAL",
  148: "MEMOIZE",
  149: "FRAME",
  150: "BYTEARRAY8",
  151: "NEXT_BUFFER",
  152: "READONLY_BUFFER",
}

/** Two's-complement little-endian integer of any width (LONG1/LONG4). */
const littleEndianSigned = (bytes: Uint8Array): number | bigint => {
  if (bytes.length === 0) return 0
  let value = 0n
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!)
  if (bytes[bytes.length - 1]! & 0x80) value -= 1n << BigInt(bytes.length * 8)
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value
}

/**
 * Interprets a pickle (protocols 2 to 4, the subset `torch.save` writes) without executing anything: globals
 * resolve only to the fixed list in `torchGlobals.ts`, and any other opcode or global throws a PickleRefusal
 * naming it. Returns the unpickled top-level value.
 */
export const interpretPickle = (bytes: Uint8Array, persistentLoad: PersistentLoad): PickleValue => {
  const data = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const stack: Array<PickleValue> = []
  const marks: Array<number> = []
  const memo = new Map<number, PickleValue>()
  let at = 0

  const need = (count: number): number => {
    if (at + count > bytes.length)
      throw new PickleDamage("the pickle ends in the middle of an instruction; the file is truncated")
    const start = at
    at += count
    return start
  }
  const take = (count: number): Uint8Array => {
    const start = need(count)
    return bytes.subarray(start, start + count)
  }
  const line = (): string => {
    const end = bytes.indexOf(0x0a, at)
    if (end < 0)
      throw new PickleDamage("the pickle ends in the middle of an instruction; the file is truncated")
    const text = decodeLatin1(bytes.subarray(at, end))
    at = end + 1
    return text
  }
  const pop = (): PickleValue => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) {
      throw new PickleDamage("the pickle pops from an empty stack")
    }
    return stack.pop()!
  }
  const top = (): PickleValue => {
    if (stack.length === 0) throw new PickleDamage("the pickle reads an empty stack")
    return stack[stack.length - 1]!
  }
  const popMark = (): Array<PickleValue> => {
    const mark = marks.pop()
    if (mark === undefined) throw new PickleDamage("the pickle closes a MARK it never opened")
    return stack.splice(mark)
  }
  const fetch = (index: number): PickleValue => {
    if (!memo.has(index))
      throw new PickleDamage(`the pickle reads memo slot ${index}, which was never written`)
    return memo.get(index)!
  }
  const setItems = (target: PickleValue, items: ReadonlyArray<PickleValue>): void => {
    if (!(target instanceof PyDict)) throw new PickleRefusal(`SETITEM on a ${describe(target)}`)
    if (items.length % 2 !== 0) throw new PickleDamage("SETITEMS has an odd number of items")
    for (let i = 0; i < items.length; i += 2) target.entries.set(items[i]!, items[i + 1]!)
  }
  const appendItems = (target: PickleValue, items: ReadonlyArray<PickleValue>): void => {
    if (!Array.isArray(target)) throw new PickleRefusal(`APPEND on a ${describe(target)}`)
    target.push(...items)
  }
  const utf8 = (raw: Uint8Array): string => {
    try {
      return decodeUtf8(raw)
    } catch {
      throw new PickleDamage("a pickle string is not valid UTF-8")
    }
  }

  for (;;) {
    const opcode = bytes[need(1)]!
    switch (opcode) {
      case 0x80: // PROTO
        if (bytes[need(1)]! > 5) throw new PickleRefusal(`pickle protocol ${bytes[at - 1]}`)
        break
      case 0x95: // FRAME: framing is only a read-ahead hint
        need(8)
        break
      case 0x2e: // STOP
        if (stack.length !== 1)
          throw new PickleDamage(`the pickle stops with ${stack.length} values on the stack`)
        return stack[0]!
      case 0x28:
        marks.push(stack.length)
        break
      case 0x30:
        pop()
        break
      case 0x31:
        popMark()
        break
      case 0x32:
        stack.push(top())
        break
      case 0x4e:
        stack.push(null)
        break
      case 0x88:
        stack.push(true)
        break
      case 0x89:
        stack.push(false)
        break
      case 0x4a:
        stack.push(data.getInt32(need(4), true))
        break
      case 0x4b:
        stack.push(bytes[need(1)]!)
        break
      case 0x4d:
        stack.push(data.getUint16(need(2), true))
        break
      case 0x8a:
        stack.push(littleEndianSigned(take(bytes[need(1)]!)))
        break
      case 0x8b: {
        const length = data.getInt32(need(4), true)
        if (length < 0) throw new PickleDamage("LONG4 has a negative length")
        stack.push(littleEndianSigned(take(length)))
        break
      }
      case 0x49: {
        // INT (protocol 0); "I01"/"I00" are the protocol-0 booleans
        const text = line()
        if (text === "01" || text === "00") stack.push(text === "01")
        else if (/^-?\d+$/.test(text)) stack.push(Number(text))
        else throw new PickleDamage(`INT opcode with a malformed value "${text}"`)
        break
      }
      case 0x47:
        stack.push(data.getFloat64(need(8), false))
        break
      case 0x58:
        stack.push(utf8(take(data.getUint32(need(4), true))))
        break
      case 0x8c:
        stack.push(utf8(take(bytes[need(1)]!)))
        break
      case 0x8d:
        stack.push(utf8(take(Number(data.getBigUint64(need(8), true)))))
        break
      case 0x54: {
        const length = data.getInt32(need(4), true)
        if (length < 0) throw new PickleDamage("BINSTRING has a negative length")
        stack.push(decodeLatin1(take(length)))
        break
      }
      case 0x55:
        stack.push(decodeLatin1(take(bytes[need(1)]!)))
        break
      case 0x42:
        stack.push(take(data.getUint32(need(4), true)).slice())
        break
      case 0x43:
        stack.push(take(bytes[need(1)]!).slice())
        break
      case 0x8e:
        stack.push(take(Number(data.getBigUint64(need(8), true))).slice())
        break
      case 0x29:
        stack.push(new PyTuple([]))
        break
      case 0x74:
        stack.push(new PyTuple(popMark()))
        break
      case 0x85:
        stack.push(new PyTuple([pop()]))
        break
      case 0x86: {
        const second = pop()
        stack.push(new PyTuple([pop(), second]))
        break
      }
      case 0x87: {
        const third = pop()
        const second = pop()
        stack.push(new PyTuple([pop(), second, third]))
        break
      }
      case 0x5d:
        stack.push([])
        break
      case 0x6c:
        stack.push(popMark())
        break
      case 0x61: {
        const item = pop()
        appendItems(top(), [item])
        break
      }
      case 0x65: {
        const items = popMark()
        appendItems(top(), items)
        break
      }
      case 0x7d:
        stack.push(new PyDict())
        break
      case 0x64: {
        const dict = new PyDict()
        setItems(dict, popMark())
        stack.push(dict)
        break
      }
      case 0x73: {
        const value = pop()
        const key = pop()
        setItems(top(), [key, value])
        break
      }
      case 0x75: {
        const items = popMark()
        setItems(top(), items)
        break
      }
      case 0x63: {
        const module = line()
        const name = line()
        stack.push(resolveGlobal(module, name))
        break
      }
      case 0x93: {
        const name = pop()
        const module = pop()
        if (typeof module !== "string" || typeof name !== "string")
          throw new PickleDamage("STACK_GLOBAL operands are not strings")
        stack.push(resolveGlobal(module, name))
        break
      }
      case 0x52: {
        const args = pop()
        const callable = pop()
        stack.push(applyGlobal(callable, args))
        break
      }
      case 0x81: {
        pop()
        stack.push(instantiate(pop()))
        break
      }
      case 0x62: {
        pop()
        buildState(top())
        break
      }
      case 0x51:
        stack.push(persistentLoad(pop()))
        break
      case 0x71:
        memo.set(bytes[need(1)]!, top())
        break
      case 0x72:
        memo.set(data.getUint32(need(4), true), top())
        break
      case 0x70: {
        const text = line()
        if (!/^\d+$/.test(text)) throw new PickleDamage(`PUT with a malformed index "${text}"`)
        memo.set(Number(text), top())
        break
      }
      case 0x94:
        memo.set(memo.size, top())
        break
      case 0x68:
        stack.push(fetch(bytes[need(1)]!))
        break
      case 0x6a:
        stack.push(fetch(data.getUint32(need(4), true)))
        break
      case 0x67: {
        const text = line()
        if (!/^\d+$/.test(text)) throw new PickleDamage(`GET with a malformed index "${text}"`)
        stack.push(fetch(Number(text)))
        break
      }
      default: {
        const name = opcodeNames[opcode]
        throw new PickleRefusal(
          name === undefined
            ? `an unknown opcode 0x${opcode.toString(16).padStart(2, "0")} at byte ${at - 1}`
            : `the opcode ${name}`,
        )
      }
    }
  }
}
