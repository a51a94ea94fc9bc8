// Generated from messages.proto by protons (npm run gen:protocol): do not edit by hand.
import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export enum Workflow {
  CHAIN = 'CHAIN',
  ENSEMBLE = 'ENSEMBLE'
}

enum __WorkflowValues {
  CHAIN = 0,
  ENSEMBLE = 1
}

export namespace Workflow {
  export const codec = (): Codec<Workflow> => {
    return enumeration<Workflow>(__WorkflowValues)
  }
}

export enum Admission {
  OPEN = 'OPEN',
  ALLOWLIST = 'ALLOWLIST'
}

enum __AdmissionValues {
  OPEN = 0,
  ALLOWLIST = 1
}

export namespace Admission {
  export const codec = (): Codec<Admission> => {
    return enumeration<Admission>(__AdmissionValues)
  }
}

export interface Slot {
  role: string
  family: string
  tokenizer?: Uint8Array<ArrayBuffer>
}

export namespace Slot {
  let _codec: Codec<Slot>

  export const codec = (): Codec<Slot> => {
    if (_codec == null) {
      _codec = message<Slot>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.role != null && obj.role !== '')) {
          w.uint32(10)
          w.string(obj.role)
        }

        if ((obj.family != null && obj.family !== '')) {
          w.uint32(18)
          w.string(obj.family)
        }

        if (obj.tokenizer != null) {
          w.uint32(26)
          w.bytes(obj.tokenizer)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          role: '',
          family: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.role = reader.string()
              break
            }
            case 2: {
              obj.family = reader.string()
              break
            }
            case 3: {
              obj.tokenizer = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.role`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.family`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.tokenizer`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface SlotRoleFieldEvent {
    field: '$.role'
    value: string
  }

  export interface SlotFamilyFieldEvent {
    field: '$.family'
    value: string
  }

  export interface SlotTokenizerFieldEvent {
    field: '$.tokenizer'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Slot>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Slot.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Slot>): Slot {
    return decodeMessage(buf, Slot.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Slot>): Generator<SlotRoleFieldEvent | SlotFamilyFieldEvent | SlotTokenizerFieldEvent> {
    return streamMessage(buf, Slot.codec(), opts)
  }
}

export interface Dataset {
  name: string
  cid?: Uint8Array<ArrayBuffer>
  uri: string
}

export namespace Dataset {
  let _codec: Codec<Dataset>

  export const codec = (): Codec<Dataset> => {
    if (_codec == null) {
      _codec = message<Dataset>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if (obj.cid != null) {
          w.uint32(18)
          w.bytes(obj.cid)
        }

        if ((obj.uri != null && obj.uri !== '')) {
          w.uint32(26)
          w.string(obj.uri)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          uri: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              obj.cid = reader.bytes()
              break
            }
            case 3: {
              obj.uri = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.cid`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.uri`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface DatasetNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface DatasetCidFieldEvent {
    field: '$.cid'
    value: Uint8Array<ArrayBuffer>
  }

  export interface DatasetUriFieldEvent {
    field: '$.uri'
    value: string
  }

  export function encode (obj: Partial<Dataset>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Dataset.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Dataset>): Dataset {
    return decodeMessage(buf, Dataset.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Dataset>): Generator<DatasetNameFieldEvent | DatasetCidFieldEvent | DatasetUriFieldEvent> {
    return streamMessage(buf, Dataset.codec(), opts)
  }
}

export interface TeamManifest {
  version: number
  name: string
  slots: Slot[]
  workflow: Workflow
  config: string
  dataset?: Dataset
  admission: Admission
  allow: Uint8Array<ArrayBuffer>[]
  upgrades: boolean
  test?: Dataset
}

export namespace TeamManifest {
  let _codec: Codec<TeamManifest>

  export const codec = (): Codec<TeamManifest> => {
    if (_codec == null) {
      _codec = message<TeamManifest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(18)
          w.string(obj.name)
        }

        if (obj.slots != null && obj.slots.length > 0) {
          for (const value of obj.slots) {
            w.uint32(26)
            Slot.codec().encode(value, w)
          }
        }

        if (obj.workflow != null && __WorkflowValues[obj.workflow] !== 0) {
          w.uint32(32)
          Workflow.codec().encode(obj.workflow, w)
        }

        if ((obj.config != null && obj.config !== '')) {
          w.uint32(42)
          w.string(obj.config)
        }

        if (obj.dataset != null) {
          w.uint32(50)
          Dataset.codec().encode(obj.dataset, w)
        }

        if (obj.admission != null && __AdmissionValues[obj.admission] !== 0) {
          w.uint32(56)
          Admission.codec().encode(obj.admission, w)
        }

        if (obj.allow != null && obj.allow.length > 0) {
          for (const value of obj.allow) {
            w.uint32(66)
            w.bytes(value)
          }
        }

        if ((obj.upgrades != null && obj.upgrades !== false)) {
          w.uint32(72)
          w.bool(obj.upgrades)
        }

        if (obj.test != null) {
          w.uint32(82)
          Dataset.codec().encode(obj.test, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          name: '',
          slots: [],
          workflow: Workflow.CHAIN,
          config: '',
          admission: Admission.OPEN,
          allow: [],
          upgrades: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.name = reader.string()
              break
            }
            case 3: {
              if (opts.limits?.slots != null && obj.slots.length === opts.limits.slots) {
                throw new MaxLengthError('Decode error - repeated field "slots" had too many elements')
              }

              obj.slots.push(Slot.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.slots$
              }))
              break
            }
            case 4: {
              obj.workflow = Workflow.codec().decode(reader)
              break
            }
            case 5: {
              obj.config = reader.string()
              break
            }
            case 6: {
              obj.dataset = Dataset.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.dataset
              })
              break
            }
            case 7: {
              obj.admission = Admission.codec().decode(reader)
              break
            }
            case 8: {
              if (opts.limits?.allow != null && obj.allow.length === opts.limits.allow) {
                throw new MaxLengthError('Decode error - repeated field "allow" had too many elements')
              }

              obj.allow.push(reader.bytes())
              break
            }
            case 9: {
              obj.upgrades = reader.bool()
              break
            }
            case 10: {
              obj.test = Dataset.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.test
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          slots: 0,
          allow: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 3: {
              if (opts.limits?.slots != null && obj.slots === opts.limits.slots) {
                throw new MaxLengthError('Streaming decode error - repeated field "slots" had too many elements')
              }

              for (const evt of Slot.codec().stream(reader, reader.uint32(), `${prefix}.slots[]`, {
                limits: opts.limits?.slots$
              })) {
                yield {
                  ...evt,
                  index: obj.slots
                }
              }

              obj.slots++

              break
            }
            case 4: {
              yield {
                field: `${prefix}.workflow`,
                value: Workflow.codec().decode(reader)
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.config`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield * Dataset.codec().stream(reader, reader.uint32(), `${prefix}.dataset`, {
                limits: opts.limits?.dataset
              })

              break
            }
            case 7: {
              yield {
                field: `${prefix}.admission`,
                value: Admission.codec().decode(reader)
              }
              break
            }
            case 8: {
              if (opts.limits?.allow != null && obj.allow === opts.limits.allow) {
                throw new MaxLengthError('Streaming decode error - repeated field "allow" had too many elements')
              }

              yield {
                field: `${prefix}.allow[]`,
                index: obj.allow,
                value: reader.bytes()
              }

              obj.allow++

              break
            }
            case 9: {
              yield {
                field: `${prefix}.upgrades`,
                value: reader.bool()
              }
              break
            }
            case 10: {
              yield * Dataset.codec().stream(reader, reader.uint32(), `${prefix}.test`, {
                limits: opts.limits?.test
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface TeamManifestVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface TeamManifestNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface TeamManifestSlotsRoleFieldEvent {
    field: '$.slots[].role'
    value: string
    index: number
  }

  export interface TeamManifestSlotsFamilyFieldEvent {
    field: '$.slots[].family'
    value: string
    index: number
  }

  export interface TeamManifestSlotsTokenizerFieldEvent {
    field: '$.slots[].tokenizer'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface TeamManifestWorkflowFieldEvent {
    field: '$.workflow'
    value: Workflow
  }

  export interface TeamManifestConfigFieldEvent {
    field: '$.config'
    value: string
  }

  export interface TeamManifestDatasetNameFieldEvent {
    field: '$.dataset.name'
    value: string
  }

  export interface TeamManifestDatasetCidFieldEvent {
    field: '$.dataset.cid'
    value: Uint8Array<ArrayBuffer>
  }

  export interface TeamManifestDatasetUriFieldEvent {
    field: '$.dataset.uri'
    value: string
  }

  export interface TeamManifestAdmissionFieldEvent {
    field: '$.admission'
    value: Admission
  }

  export interface TeamManifestAllowFieldEvent {
    field: '$.allow[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface TeamManifestUpgradesFieldEvent {
    field: '$.upgrades'
    value: boolean
  }

  export interface TeamManifestTestNameFieldEvent {
    field: '$.test.name'
    value: string
  }

  export interface TeamManifestTestCidFieldEvent {
    field: '$.test.cid'
    value: Uint8Array<ArrayBuffer>
  }

  export interface TeamManifestTestUriFieldEvent {
    field: '$.test.uri'
    value: string
  }

  export function encode (obj: Partial<TeamManifest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, TeamManifest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TeamManifest>): TeamManifest {
    return decodeMessage(buf, TeamManifest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TeamManifest>): Generator<TeamManifestVersionFieldEvent | TeamManifestNameFieldEvent | TeamManifestSlotsRoleFieldEvent | TeamManifestSlotsFamilyFieldEvent | TeamManifestSlotsTokenizerFieldEvent | TeamManifestWorkflowFieldEvent | TeamManifestConfigFieldEvent | TeamManifestDatasetNameFieldEvent | TeamManifestDatasetCidFieldEvent | TeamManifestDatasetUriFieldEvent | TeamManifestAdmissionFieldEvent | TeamManifestAllowFieldEvent | TeamManifestUpgradesFieldEvent | TeamManifestTestNameFieldEvent | TeamManifestTestCidFieldEvent | TeamManifestTestUriFieldEvent> {
    return streamMessage(buf, TeamManifest.codec(), opts)
  }
}

export interface Heartbeat {
  version: number
  team: string
  slot: number
  stage: number
  model: string
  time: number
  digestStage: number
  digest: Uint8Array<ArrayBuffer>
}

export namespace Heartbeat {
  let _codec: Codec<Heartbeat>

  export const codec = (): Codec<Heartbeat> => {
    if (_codec == null) {
      _codec = message<Heartbeat>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.team != null && obj.team !== '')) {
          w.uint32(18)
          w.string(obj.team)
        }

        if ((obj.slot != null && obj.slot !== 0)) {
          w.uint32(24)
          w.uint32(obj.slot)
        }

        if ((obj.stage != null && obj.stage !== 0)) {
          w.uint32(32)
          w.uint32(obj.stage)
        }

        if ((obj.model != null && obj.model !== '')) {
          w.uint32(42)
          w.string(obj.model)
        }

        if ((obj.time != null && obj.time !== 0)) {
          w.uint32(48)
          w.uint64Number(obj.time)
        }

        if ((obj.digestStage != null && obj.digestStage !== 0)) {
          w.uint32(56)
          w.uint32(obj.digestStage)
        }

        if ((obj.digest != null && obj.digest.byteLength > 0)) {
          w.uint32(66)
          w.bytes(obj.digest)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          team: '',
          slot: 0,
          stage: 0,
          model: '',
          time: 0,
          digestStage: 0,
          digest: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.team = reader.string()
              break
            }
            case 3: {
              obj.slot = reader.uint32()
              break
            }
            case 4: {
              obj.stage = reader.uint32()
              break
            }
            case 5: {
              obj.model = reader.string()
              break
            }
            case 6: {
              obj.time = reader.uint64Number()
              break
            }
            case 7: {
              obj.digestStage = reader.uint32()
              break
            }
            case 8: {
              obj.digest = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.team`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.slot`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.stage`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.model`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.time`,
                value: reader.uint64Number()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.digestStage`,
                value: reader.uint32()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.digest`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface HeartbeatVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface HeartbeatTeamFieldEvent {
    field: '$.team'
    value: string
  }

  export interface HeartbeatSlotFieldEvent {
    field: '$.slot'
    value: number
  }

  export interface HeartbeatStageFieldEvent {
    field: '$.stage'
    value: number
  }

  export interface HeartbeatModelFieldEvent {
    field: '$.model'
    value: string
  }

  export interface HeartbeatTimeFieldEvent {
    field: '$.time'
    value: number
  }

  export interface HeartbeatDigestStageFieldEvent {
    field: '$.digestStage'
    value: number
  }

  export interface HeartbeatDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Heartbeat>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Heartbeat.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Heartbeat>): Heartbeat {
    return decodeMessage(buf, Heartbeat.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Heartbeat>): Generator<HeartbeatVersionFieldEvent | HeartbeatTeamFieldEvent | HeartbeatSlotFieldEvent | HeartbeatStageFieldEvent | HeartbeatModelFieldEvent | HeartbeatTimeFieldEvent | HeartbeatDigestStageFieldEvent | HeartbeatDigestFieldEvent> {
    return streamMessage(buf, Heartbeat.codec(), opts)
  }
}

export interface SlotClaim {
  version: number
  team: string
  slot: number
  family: string
  tokenizer?: Uint8Array<ArrayBuffer>
  upgrade: boolean
  from: number
  time: number
}

export namespace SlotClaim {
  let _codec: Codec<SlotClaim>

  export const codec = (): Codec<SlotClaim> => {
    if (_codec == null) {
      _codec = message<SlotClaim>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.team != null && obj.team !== '')) {
          w.uint32(18)
          w.string(obj.team)
        }

        if ((obj.slot != null && obj.slot !== 0)) {
          w.uint32(24)
          w.uint32(obj.slot)
        }

        if ((obj.family != null && obj.family !== '')) {
          w.uint32(34)
          w.string(obj.family)
        }

        if (obj.tokenizer != null) {
          w.uint32(42)
          w.bytes(obj.tokenizer)
        }

        if ((obj.upgrade != null && obj.upgrade !== false)) {
          w.uint32(48)
          w.bool(obj.upgrade)
        }

        if ((obj.from != null && obj.from !== 0)) {
          w.uint32(56)
          w.uint32(obj.from)
        }

        if ((obj.time != null && obj.time !== 0)) {
          w.uint32(64)
          w.uint64Number(obj.time)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          team: '',
          slot: 0,
          family: '',
          upgrade: false,
          from: 0,
          time: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.team = reader.string()
              break
            }
            case 3: {
              obj.slot = reader.uint32()
              break
            }
            case 4: {
              obj.family = reader.string()
              break
            }
            case 5: {
              obj.tokenizer = reader.bytes()
              break
            }
            case 6: {
              obj.upgrade = reader.bool()
              break
            }
            case 7: {
              obj.from = reader.uint32()
              break
            }
            case 8: {
              obj.time = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.team`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.slot`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.family`,
                value: reader.string()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.tokenizer`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.upgrade`,
                value: reader.bool()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.from`,
                value: reader.uint32()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.time`,
                value: reader.uint64Number()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface SlotClaimVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface SlotClaimTeamFieldEvent {
    field: '$.team'
    value: string
  }

  export interface SlotClaimSlotFieldEvent {
    field: '$.slot'
    value: number
  }

  export interface SlotClaimFamilyFieldEvent {
    field: '$.family'
    value: string
  }

  export interface SlotClaimTokenizerFieldEvent {
    field: '$.tokenizer'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SlotClaimUpgradeFieldEvent {
    field: '$.upgrade'
    value: boolean
  }

  export interface SlotClaimFromFieldEvent {
    field: '$.from'
    value: number
  }

  export interface SlotClaimTimeFieldEvent {
    field: '$.time'
    value: number
  }

  export function encode (obj: Partial<SlotClaim>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SlotClaim.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SlotClaim>): SlotClaim {
    return decodeMessage(buf, SlotClaim.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SlotClaim>): Generator<SlotClaimVersionFieldEvent | SlotClaimTeamFieldEvent | SlotClaimSlotFieldEvent | SlotClaimFamilyFieldEvent | SlotClaimTokenizerFieldEvent | SlotClaimUpgradeFieldEvent | SlotClaimFromFieldEvent | SlotClaimTimeFieldEvent> {
    return streamMessage(buf, SlotClaim.codec(), opts)
  }
}

export interface SlotState {
  version: number
  team: string
  slot: number
  stage: number
  manifest?: Uint8Array<ArrayBuffer>
  bytes: number
}

export namespace SlotState {
  let _codec: Codec<SlotState>

  export const codec = (): Codec<SlotState> => {
    if (_codec == null) {
      _codec = message<SlotState>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.team != null && obj.team !== '')) {
          w.uint32(18)
          w.string(obj.team)
        }

        if ((obj.slot != null && obj.slot !== 0)) {
          w.uint32(24)
          w.uint32(obj.slot)
        }

        if ((obj.stage != null && obj.stage !== 0)) {
          w.uint32(32)
          w.uint32(obj.stage)
        }

        if (obj.manifest != null) {
          w.uint32(42)
          w.bytes(obj.manifest)
        }

        if ((obj.bytes != null && obj.bytes !== 0)) {
          w.uint32(48)
          w.uint64Number(obj.bytes)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          team: '',
          slot: 0,
          stage: 0,
          bytes: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.team = reader.string()
              break
            }
            case 3: {
              obj.slot = reader.uint32()
              break
            }
            case 4: {
              obj.stage = reader.uint32()
              break
            }
            case 5: {
              obj.manifest = reader.bytes()
              break
            }
            case 6: {
              obj.bytes = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.team`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.slot`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.stage`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.manifest`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.bytes`,
                value: reader.uint64Number()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface SlotStateVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface SlotStateTeamFieldEvent {
    field: '$.team'
    value: string
  }

  export interface SlotStateSlotFieldEvent {
    field: '$.slot'
    value: number
  }

  export interface SlotStateStageFieldEvent {
    field: '$.stage'
    value: number
  }

  export interface SlotStateManifestFieldEvent {
    field: '$.manifest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SlotStateBytesFieldEvent {
    field: '$.bytes'
    value: number
  }

  export function encode (obj: Partial<SlotState>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SlotState.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SlotState>): SlotState {
    return decodeMessage(buf, SlotState.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SlotState>): Generator<SlotStateVersionFieldEvent | SlotStateTeamFieldEvent | SlotStateSlotFieldEvent | SlotStateStageFieldEvent | SlotStateManifestFieldEvent | SlotStateBytesFieldEvent> {
    return streamMessage(buf, SlotState.codec(), opts)
  }
}

export interface Turn {
  slot: number
  ids: number[]
  logprobs: number[]
}

export namespace Turn {
  let _codec: Codec<Turn>

  export const codec = (): Codec<Turn> => {
    if (_codec == null) {
      _codec = message<Turn>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.slot != null && obj.slot !== 0)) {
          w.uint32(8)
          w.uint32(obj.slot)
        }

        if (obj.ids != null && obj.ids.length > 0) {
          for (const value of obj.ids) {
            w.uint32(16)
            w.uint32(value)
          }
        }

        if (obj.logprobs != null && obj.logprobs.length > 0) {
          for (const value of obj.logprobs) {
            w.uint32(29)
            w.float(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          slot: 0,
          ids: [],
          logprobs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.slot = reader.uint32()
              break
            }
            case 2: {
              if (opts.limits?.ids != null && obj.ids.length === opts.limits.ids) {
                throw new MaxLengthError('Decode error - repeated field "ids" had too many elements')
              }

              obj.ids.push(reader.uint32())
              break
            }
            case 3: {
              if (opts.limits?.logprobs != null && obj.logprobs.length === opts.limits.logprobs) {
                throw new MaxLengthError('Decode error - repeated field "logprobs" had too many elements')
              }

              obj.logprobs.push(reader.float())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          ids: 0,
          logprobs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.slot`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              if (opts.limits?.ids != null && obj.ids === opts.limits.ids) {
                throw new MaxLengthError('Streaming decode error - repeated field "ids" had too many elements')
              }

              yield {
                field: `${prefix}.ids[]`,
                index: obj.ids,
                value: reader.uint32()
              }

              obj.ids++

              break
            }
            case 3: {
              if (opts.limits?.logprobs != null && obj.logprobs === opts.limits.logprobs) {
                throw new MaxLengthError('Streaming decode error - repeated field "logprobs" had too many elements')
              }

              yield {
                field: `${prefix}.logprobs[]`,
                index: obj.logprobs,
                value: reader.float()
              }

              obj.logprobs++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface TurnSlotFieldEvent {
    field: '$.slot'
    value: number
  }

  export interface TurnIdsFieldEvent {
    field: '$.ids[]'
    index: number
    value: number
  }

  export interface TurnLogprobsFieldEvent {
    field: '$.logprobs[]'
    index: number
    value: number
  }

  export function encode (obj: Partial<Turn>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Turn.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Turn>): Turn {
    return decodeMessage(buf, Turn.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Turn>): Generator<TurnSlotFieldEvent | TurnIdsFieldEvent | TurnLogprobsFieldEvent> {
    return streamMessage(buf, Turn.codec(), opts)
  }
}

export interface Trajectory {
  prompt: number
  group: number
  ids: number[]
  turns: Turn[]
  reward: number
}

export namespace Trajectory {
  let _codec: Codec<Trajectory>

  export const codec = (): Codec<Trajectory> => {
    if (_codec == null) {
      _codec = message<Trajectory>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.prompt != null && obj.prompt !== 0)) {
          w.uint32(8)
          w.uint32(obj.prompt)
        }

        if ((obj.group != null && obj.group !== 0)) {
          w.uint32(16)
          w.uint32(obj.group)
        }

        if (obj.ids != null && obj.ids.length > 0) {
          for (const value of obj.ids) {
            w.uint32(24)
            w.uint32(value)
          }
        }

        if (obj.turns != null && obj.turns.length > 0) {
          for (const value of obj.turns) {
            w.uint32(34)
            Turn.codec().encode(value, w)
          }
        }

        if ((obj.reward != null && obj.reward !== 0)) {
          w.uint32(41)
          w.double(obj.reward)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          prompt: 0,
          group: 0,
          ids: [],
          turns: [],
          reward: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.prompt = reader.uint32()
              break
            }
            case 2: {
              obj.group = reader.uint32()
              break
            }
            case 3: {
              if (opts.limits?.ids != null && obj.ids.length === opts.limits.ids) {
                throw new MaxLengthError('Decode error - repeated field "ids" had too many elements')
              }

              obj.ids.push(reader.uint32())
              break
            }
            case 4: {
              if (opts.limits?.turns != null && obj.turns.length === opts.limits.turns) {
                throw new MaxLengthError('Decode error - repeated field "turns" had too many elements')
              }

              obj.turns.push(Turn.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.turns$
              }))
              break
            }
            case 5: {
              obj.reward = reader.double()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          ids: 0,
          turns: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.prompt`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.group`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              if (opts.limits?.ids != null && obj.ids === opts.limits.ids) {
                throw new MaxLengthError('Streaming decode error - repeated field "ids" had too many elements')
              }

              yield {
                field: `${prefix}.ids[]`,
                index: obj.ids,
                value: reader.uint32()
              }

              obj.ids++

              break
            }
            case 4: {
              if (opts.limits?.turns != null && obj.turns === opts.limits.turns) {
                throw new MaxLengthError('Streaming decode error - repeated field "turns" had too many elements')
              }

              for (const evt of Turn.codec().stream(reader, reader.uint32(), `${prefix}.turns[]`, {
                limits: opts.limits?.turns$
              })) {
                yield {
                  ...evt,
                  index: obj.turns
                }
              }

              obj.turns++

              break
            }
            case 5: {
              yield {
                field: `${prefix}.reward`,
                value: reader.double()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface TrajectoryPromptFieldEvent {
    field: '$.prompt'
    value: number
  }

  export interface TrajectoryGroupFieldEvent {
    field: '$.group'
    value: number
  }

  export interface TrajectoryIdsFieldEvent {
    field: '$.ids[]'
    index: number
    value: number
  }

  export interface TrajectoryTurnsSlotFieldEvent {
    field: '$.turns[].slot'
    value: number
    index: number
  }

  export interface TrajectoryTurnsIdsFieldEvent {
    field: '$.turns[].ids[]'
    index: number
    value: number
  }

  export interface TrajectoryTurnsLogprobsFieldEvent {
    field: '$.turns[].logprobs[]'
    index: number
    value: number
  }

  export interface TrajectoryRewardFieldEvent {
    field: '$.reward'
    value: number
  }

  export function encode (obj: Partial<Trajectory>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Trajectory.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Trajectory>): Trajectory {
    return decodeMessage(buf, Trajectory.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Trajectory>): Generator<TrajectoryPromptFieldEvent | TrajectoryGroupFieldEvent | TrajectoryIdsFieldEvent | TrajectoryTurnsSlotFieldEvent | TrajectoryTurnsIdsFieldEvent | TrajectoryTurnsLogprobsFieldEvent | TrajectoryRewardFieldEvent> {
    return streamMessage(buf, Trajectory.codec(), opts)
  }
}

export interface TrajectoryShard {
  version: number
  team: string
  stage: number
  trajectories: Trajectory[]
  rollout: string
  part: number
  parts: number
  chunk: number
  chunks: number
}

export namespace TrajectoryShard {
  let _codec: Codec<TrajectoryShard>

  export const codec = (): Codec<TrajectoryShard> => {
    if (_codec == null) {
      _codec = message<TrajectoryShard>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.team != null && obj.team !== '')) {
          w.uint32(18)
          w.string(obj.team)
        }

        if ((obj.stage != null && obj.stage !== 0)) {
          w.uint32(24)
          w.uint32(obj.stage)
        }

        if (obj.trajectories != null && obj.trajectories.length > 0) {
          for (const value of obj.trajectories) {
            w.uint32(34)
            Trajectory.codec().encode(value, w)
          }
        }

        if ((obj.rollout != null && obj.rollout !== '')) {
          w.uint32(42)
          w.string(obj.rollout)
        }

        if ((obj.part != null && obj.part !== 0)) {
          w.uint32(48)
          w.uint32(obj.part)
        }

        if ((obj.parts != null && obj.parts !== 0)) {
          w.uint32(56)
          w.uint32(obj.parts)
        }

        if ((obj.chunk != null && obj.chunk !== 0)) {
          w.uint32(64)
          w.uint32(obj.chunk)
        }

        if ((obj.chunks != null && obj.chunks !== 0)) {
          w.uint32(72)
          w.uint32(obj.chunks)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          team: '',
          stage: 0,
          trajectories: [],
          rollout: '',
          part: 0,
          parts: 0,
          chunk: 0,
          chunks: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.team = reader.string()
              break
            }
            case 3: {
              obj.stage = reader.uint32()
              break
            }
            case 4: {
              if (opts.limits?.trajectories != null && obj.trajectories.length === opts.limits.trajectories) {
                throw new MaxLengthError('Decode error - repeated field "trajectories" had too many elements')
              }

              obj.trajectories.push(Trajectory.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.trajectories$
              }))
              break
            }
            case 5: {
              obj.rollout = reader.string()
              break
            }
            case 6: {
              obj.part = reader.uint32()
              break
            }
            case 7: {
              obj.parts = reader.uint32()
              break
            }
            case 8: {
              obj.chunk = reader.uint32()
              break
            }
            case 9: {
              obj.chunks = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          trajectories: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.team`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.stage`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              if (opts.limits?.trajectories != null && obj.trajectories === opts.limits.trajectories) {
                throw new MaxLengthError('Streaming decode error - repeated field "trajectories" had too many elements')
              }

              for (const evt of Trajectory.codec().stream(reader, reader.uint32(), `${prefix}.trajectories[]`, {
                limits: opts.limits?.trajectories$
              })) {
                yield {
                  ...evt,
                  index: obj.trajectories
                }
              }

              obj.trajectories++

              break
            }
            case 5: {
              yield {
                field: `${prefix}.rollout`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.part`,
                value: reader.uint32()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.parts`,
                value: reader.uint32()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.chunk`,
                value: reader.uint32()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.chunks`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface TrajectoryShardVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface TrajectoryShardTeamFieldEvent {
    field: '$.team'
    value: string
  }

  export interface TrajectoryShardStageFieldEvent {
    field: '$.stage'
    value: number
  }

  export interface TrajectoryShardTrajectoriesPromptFieldEvent {
    field: '$.trajectories[].prompt'
    value: number
    index: number
  }

  export interface TrajectoryShardTrajectoriesGroupFieldEvent {
    field: '$.trajectories[].group'
    value: number
    index: number
  }

  export interface TrajectoryShardTrajectoriesIdsFieldEvent {
    field: '$.trajectories[].ids[]'
    index: number
    value: number
  }

  export interface TrajectoryShardTrajectoriesTurnsSlotFieldEvent {
    field: '$.trajectories[].turns[].slot'
    value: number
    index: number
  }

  export interface TrajectoryShardTrajectoriesTurnsIdsFieldEvent {
    field: '$.trajectories[].turns[].ids[]'
    index: number
    value: number
  }

  export interface TrajectoryShardTrajectoriesTurnsLogprobsFieldEvent {
    field: '$.trajectories[].turns[].logprobs[]'
    index: number
    value: number
  }

  export interface TrajectoryShardTrajectoriesRewardFieldEvent {
    field: '$.trajectories[].reward'
    value: number
    index: number
  }

  export interface TrajectoryShardRolloutFieldEvent {
    field: '$.rollout'
    value: string
  }

  export interface TrajectoryShardPartFieldEvent {
    field: '$.part'
    value: number
  }

  export interface TrajectoryShardPartsFieldEvent {
    field: '$.parts'
    value: number
  }

  export interface TrajectoryShardChunkFieldEvent {
    field: '$.chunk'
    value: number
  }

  export interface TrajectoryShardChunksFieldEvent {
    field: '$.chunks'
    value: number
  }

  export function encode (obj: Partial<TrajectoryShard>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, TrajectoryShard.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TrajectoryShard>): TrajectoryShard {
    return decodeMessage(buf, TrajectoryShard.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TrajectoryShard>): Generator<TrajectoryShardVersionFieldEvent | TrajectoryShardTeamFieldEvent | TrajectoryShardStageFieldEvent | TrajectoryShardTrajectoriesPromptFieldEvent | TrajectoryShardTrajectoriesGroupFieldEvent | TrajectoryShardTrajectoriesIdsFieldEvent | TrajectoryShardTrajectoriesTurnsSlotFieldEvent | TrajectoryShardTrajectoriesTurnsIdsFieldEvent | TrajectoryShardTrajectoriesTurnsLogprobsFieldEvent | TrajectoryShardTrajectoriesRewardFieldEvent | TrajectoryShardRolloutFieldEvent | TrajectoryShardPartFieldEvent | TrajectoryShardPartsFieldEvent | TrajectoryShardChunkFieldEvent | TrajectoryShardChunksFieldEvent> {
    return streamMessage(buf, TrajectoryShard.codec(), opts)
  }
}

export interface LogprobUpdate {
  version: number
  team: string
  stage: number
  position: number
  slot: number
  shards: Uint8Array<ArrayBuffer>[]
  logprobs: number[]
  cur: number[]
  record?: StageRecord
  after: Uint8Array<ArrayBuffer>[]
  refused: Uint8Array<ArrayBuffer>[]
  weights?: Uint8Array<ArrayBuffer>
  evidence: Uint8Array<ArrayBuffer>[]
  start?: Uint8Array<ArrayBuffer>
}

export namespace LogprobUpdate {
  let _codec: Codec<LogprobUpdate>

  export const codec = (): Codec<LogprobUpdate> => {
    if (_codec == null) {
      _codec = message<LogprobUpdate>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.team != null && obj.team !== '')) {
          w.uint32(18)
          w.string(obj.team)
        }

        if ((obj.stage != null && obj.stage !== 0)) {
          w.uint32(24)
          w.uint32(obj.stage)
        }

        if ((obj.position != null && obj.position !== 0)) {
          w.uint32(32)
          w.uint32(obj.position)
        }

        if ((obj.slot != null && obj.slot !== 0)) {
          w.uint32(40)
          w.uint32(obj.slot)
        }

        if (obj.shards != null && obj.shards.length > 0) {
          for (const value of obj.shards) {
            w.uint32(50)
            w.bytes(value)
          }
        }

        if (obj.logprobs != null && obj.logprobs.length > 0) {
          for (const value of obj.logprobs) {
            w.uint32(61)
            w.float(value)
          }
        }

        if (obj.cur != null && obj.cur.length > 0) {
          for (const value of obj.cur) {
            w.uint32(69)
            w.float(value)
          }
        }

        if (obj.record != null) {
          w.uint32(74)
          StageRecord.codec().encode(obj.record, w)
        }

        if (obj.after != null && obj.after.length > 0) {
          for (const value of obj.after) {
            w.uint32(82)
            w.bytes(value)
          }
        }

        if (obj.refused != null && obj.refused.length > 0) {
          for (const value of obj.refused) {
            w.uint32(90)
            w.bytes(value)
          }
        }

        if (obj.weights != null) {
          w.uint32(98)
          w.bytes(obj.weights)
        }

        if (obj.evidence != null && obj.evidence.length > 0) {
          for (const value of obj.evidence) {
            w.uint32(106)
            w.bytes(value)
          }
        }

        if (obj.start != null) {
          w.uint32(114)
          w.bytes(obj.start)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          team: '',
          stage: 0,
          position: 0,
          slot: 0,
          shards: [],
          logprobs: [],
          cur: [],
          after: [],
          refused: [],
          evidence: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.team = reader.string()
              break
            }
            case 3: {
              obj.stage = reader.uint32()
              break
            }
            case 4: {
              obj.position = reader.uint32()
              break
            }
            case 5: {
              obj.slot = reader.uint32()
              break
            }
            case 6: {
              if (opts.limits?.shards != null && obj.shards.length === opts.limits.shards) {
                throw new MaxLengthError('Decode error - repeated field "shards" had too many elements')
              }

              obj.shards.push(reader.bytes())
              break
            }
            case 7: {
              if (opts.limits?.logprobs != null && obj.logprobs.length === opts.limits.logprobs) {
                throw new MaxLengthError('Decode error - repeated field "logprobs" had too many elements')
              }

              obj.logprobs.push(reader.float())
              break
            }
            case 8: {
              if (opts.limits?.cur != null && obj.cur.length === opts.limits.cur) {
                throw new MaxLengthError('Decode error - repeated field "cur" had too many elements')
              }

              obj.cur.push(reader.float())
              break
            }
            case 9: {
              obj.record = StageRecord.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.record
              })
              break
            }
            case 10: {
              if (opts.limits?.after != null && obj.after.length === opts.limits.after) {
                throw new MaxLengthError('Decode error - repeated field "after" had too many elements')
              }

              obj.after.push(reader.bytes())
              break
            }
            case 11: {
              if (opts.limits?.refused != null && obj.refused.length === opts.limits.refused) {
                throw new MaxLengthError('Decode error - repeated field "refused" had too many elements')
              }

              obj.refused.push(reader.bytes())
              break
            }
            case 12: {
              obj.weights = reader.bytes()
              break
            }
            case 13: {
              if (opts.limits?.evidence != null && obj.evidence.length === opts.limits.evidence) {
                throw new MaxLengthError('Decode error - repeated field "evidence" had too many elements')
              }

              obj.evidence.push(reader.bytes())
              break
            }
            case 14: {
              obj.start = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          shards: 0,
          logprobs: 0,
          cur: 0,
          after: 0,
          refused: 0,
          evidence: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.team`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.stage`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.position`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.slot`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              if (opts.limits?.shards != null && obj.shards === opts.limits.shards) {
                throw new MaxLengthError('Streaming decode error - repeated field "shards" had too many elements')
              }

              yield {
                field: `${prefix}.shards[]`,
                index: obj.shards,
                value: reader.bytes()
              }

              obj.shards++

              break
            }
            case 7: {
              if (opts.limits?.logprobs != null && obj.logprobs === opts.limits.logprobs) {
                throw new MaxLengthError('Streaming decode error - repeated field "logprobs" had too many elements')
              }

              yield {
                field: `${prefix}.logprobs[]`,
                index: obj.logprobs,
                value: reader.float()
              }

              obj.logprobs++

              break
            }
            case 8: {
              if (opts.limits?.cur != null && obj.cur === opts.limits.cur) {
                throw new MaxLengthError('Streaming decode error - repeated field "cur" had too many elements')
              }

              yield {
                field: `${prefix}.cur[]`,
                index: obj.cur,
                value: reader.float()
              }

              obj.cur++

              break
            }
            case 9: {
              yield * StageRecord.codec().stream(reader, reader.uint32(), `${prefix}.record`, {
                limits: opts.limits?.record
              })

              break
            }
            case 10: {
              if (opts.limits?.after != null && obj.after === opts.limits.after) {
                throw new MaxLengthError('Streaming decode error - repeated field "after" had too many elements')
              }

              yield {
                field: `${prefix}.after[]`,
                index: obj.after,
                value: reader.bytes()
              }

              obj.after++

              break
            }
            case 11: {
              if (opts.limits?.refused != null && obj.refused === opts.limits.refused) {
                throw new MaxLengthError('Streaming decode error - repeated field "refused" had too many elements')
              }

              yield {
                field: `${prefix}.refused[]`,
                index: obj.refused,
                value: reader.bytes()
              }

              obj.refused++

              break
            }
            case 12: {
              yield {
                field: `${prefix}.weights`,
                value: reader.bytes()
              }
              break
            }
            case 13: {
              if (opts.limits?.evidence != null && obj.evidence === opts.limits.evidence) {
                throw new MaxLengthError('Streaming decode error - repeated field "evidence" had too many elements')
              }

              yield {
                field: `${prefix}.evidence[]`,
                index: obj.evidence,
                value: reader.bytes()
              }

              obj.evidence++

              break
            }
            case 14: {
              yield {
                field: `${prefix}.start`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface LogprobUpdateVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface LogprobUpdateTeamFieldEvent {
    field: '$.team'
    value: string
  }

  export interface LogprobUpdateStageFieldEvent {
    field: '$.stage'
    value: number
  }

  export interface LogprobUpdatePositionFieldEvent {
    field: '$.position'
    value: number
  }

  export interface LogprobUpdateSlotFieldEvent {
    field: '$.slot'
    value: number
  }

  export interface LogprobUpdateShardsFieldEvent {
    field: '$.shards[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface LogprobUpdateLogprobsFieldEvent {
    field: '$.logprobs[]'
    index: number
    value: number
  }

  export interface LogprobUpdateCurFieldEvent {
    field: '$.cur[]'
    index: number
    value: number
  }

  export interface LogprobUpdateRecordVersionFieldEvent {
    field: '$.record.version'
    value: number
  }

  export interface LogprobUpdateRecordTeamFieldEvent {
    field: '$.record.team'
    value: string
  }

  export interface LogprobUpdateRecordStageFieldEvent {
    field: '$.record.stage'
    value: number
  }

  export interface LogprobUpdateRecordSlotFieldEvent {
    field: '$.record.slot'
    value: number
  }

  export interface LogprobUpdateRecordPositionFieldEvent {
    field: '$.record.position'
    value: number
  }

  export interface LogprobUpdateRecordAcceptedFieldEvent {
    field: '$.record.accepted'
    value: boolean
  }

  export interface LogprobUpdateRecordDeltaFieldEvent {
    field: '$.record.delta'
    value: number
  }

  export interface LogprobUpdateRecordNFieldEvent {
    field: '$.record.n'
    value: number
  }

  export interface LogprobUpdateRecordZetaFieldEvent {
    field: '$.record.zeta'
    value: number
  }

  export interface LogprobUpdateRecordGainFieldEvent {
    field: '$.record.gain'
    value: number
  }

  export interface LogprobUpdateRecordKlFieldEvent {
    field: '$.record.kl'
    value: number
  }

  export interface LogprobUpdateRecordBetaFieldEvent {
    field: '$.record.beta'
    value: number
  }

  export interface LogprobUpdateRecordBacktracksFieldEvent {
    field: '$.record.backtracks'
    value: number
  }

  export interface LogprobUpdateRecordRewardFieldEvent {
    field: '$.record.reward'
    value: number
  }

  export interface LogprobUpdateRecordGapFieldEvent {
    field: '$.record.gap'
    value: number
  }

  export interface LogprobUpdateRecordStage0DeltaFromFieldEvent {
    field: '$.record.stage0.deltaFrom'
    value: number
  }

  export interface LogprobUpdateRecordStage0DeltaFieldEvent {
    field: '$.record.stage0.delta'
    value: number
  }

  export interface LogprobUpdateRecordStage0DeltaMaxFieldEvent {
    field: '$.record.stage0.deltaMax'
    value: number
  }

  export interface LogprobUpdateRecordStage0ReleasedFieldEvent {
    field: '$.record.stage0.released'
    value: boolean
  }

  export interface LogprobUpdateRecordStepFieldEvent {
    field: '$.record.step'
    value: number
  }

  export interface LogprobUpdateAfterFieldEvent {
    field: '$.after[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface LogprobUpdateRefusedFieldEvent {
    field: '$.refused[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface LogprobUpdateWeightsFieldEvent {
    field: '$.weights'
    value: Uint8Array<ArrayBuffer>
  }

  export interface LogprobUpdateEvidenceFieldEvent {
    field: '$.evidence[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface LogprobUpdateStartFieldEvent {
    field: '$.start'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<LogprobUpdate>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, LogprobUpdate.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<LogprobUpdate>): LogprobUpdate {
    return decodeMessage(buf, LogprobUpdate.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<LogprobUpdate>): Generator<LogprobUpdateVersionFieldEvent | LogprobUpdateTeamFieldEvent | LogprobUpdateStageFieldEvent | LogprobUpdatePositionFieldEvent | LogprobUpdateSlotFieldEvent | LogprobUpdateShardsFieldEvent | LogprobUpdateLogprobsFieldEvent | LogprobUpdateCurFieldEvent | LogprobUpdateRecordVersionFieldEvent | LogprobUpdateRecordTeamFieldEvent | LogprobUpdateRecordStageFieldEvent | LogprobUpdateRecordSlotFieldEvent | LogprobUpdateRecordPositionFieldEvent | LogprobUpdateRecordAcceptedFieldEvent | LogprobUpdateRecordDeltaFieldEvent | LogprobUpdateRecordNFieldEvent | LogprobUpdateRecordZetaFieldEvent | LogprobUpdateRecordGainFieldEvent | LogprobUpdateRecordKlFieldEvent | LogprobUpdateRecordBetaFieldEvent | LogprobUpdateRecordBacktracksFieldEvent | LogprobUpdateRecordRewardFieldEvent | LogprobUpdateRecordGapFieldEvent | LogprobUpdateRecordStage0DeltaFromFieldEvent | LogprobUpdateRecordStage0DeltaFieldEvent | LogprobUpdateRecordStage0DeltaMaxFieldEvent | LogprobUpdateRecordStage0ReleasedFieldEvent | LogprobUpdateRecordStepFieldEvent | LogprobUpdateAfterFieldEvent | LogprobUpdateRefusedFieldEvent | LogprobUpdateWeightsFieldEvent | LogprobUpdateEvidenceFieldEvent | LogprobUpdateStartFieldEvent> {
    return streamMessage(buf, LogprobUpdate.codec(), opts)
  }
}

export interface Attestation {
  version: number
  team: string
  stage: number
  position: number
  slot: number
  update?: Uint8Array<ArrayBuffer>
  holds: boolean
  why: string
  peer?: Uint8Array<ArrayBuffer>
  signature?: Uint8Array<ArrayBuffer>
  abstains: boolean
}

export namespace Attestation {
  let _codec: Codec<Attestation>

  export const codec = (): Codec<Attestation> => {
    if (_codec == null) {
      _codec = message<Attestation>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.team != null && obj.team !== '')) {
          w.uint32(18)
          w.string(obj.team)
        }

        if ((obj.stage != null && obj.stage !== 0)) {
          w.uint32(24)
          w.uint32(obj.stage)
        }

        if ((obj.position != null && obj.position !== 0)) {
          w.uint32(32)
          w.uint32(obj.position)
        }

        if ((obj.slot != null && obj.slot !== 0)) {
          w.uint32(40)
          w.uint32(obj.slot)
        }

        if (obj.update != null) {
          w.uint32(50)
          w.bytes(obj.update)
        }

        if ((obj.holds != null && obj.holds !== false)) {
          w.uint32(56)
          w.bool(obj.holds)
        }

        if ((obj.why != null && obj.why !== '')) {
          w.uint32(66)
          w.string(obj.why)
        }

        if (obj.peer != null) {
          w.uint32(74)
          w.bytes(obj.peer)
        }

        if (obj.signature != null) {
          w.uint32(82)
          w.bytes(obj.signature)
        }

        if ((obj.abstains != null && obj.abstains !== false)) {
          w.uint32(88)
          w.bool(obj.abstains)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          team: '',
          stage: 0,
          position: 0,
          slot: 0,
          holds: false,
          why: '',
          abstains: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.team = reader.string()
              break
            }
            case 3: {
              obj.stage = reader.uint32()
              break
            }
            case 4: {
              obj.position = reader.uint32()
              break
            }
            case 5: {
              obj.slot = reader.uint32()
              break
            }
            case 6: {
              obj.update = reader.bytes()
              break
            }
            case 7: {
              obj.holds = reader.bool()
              break
            }
            case 8: {
              obj.why = reader.string()
              break
            }
            case 9: {
              obj.peer = reader.bytes()
              break
            }
            case 10: {
              obj.signature = reader.bytes()
              break
            }
            case 11: {
              obj.abstains = reader.bool()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.team`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.stage`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.position`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.slot`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.update`,
                value: reader.bytes()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.holds`,
                value: reader.bool()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.why`,
                value: reader.string()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.peer`,
                value: reader.bytes()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.signature`,
                value: reader.bytes()
              }
              break
            }
            case 11: {
              yield {
                field: `${prefix}.abstains`,
                value: reader.bool()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface AttestationVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface AttestationTeamFieldEvent {
    field: '$.team'
    value: string
  }

  export interface AttestationStageFieldEvent {
    field: '$.stage'
    value: number
  }

  export interface AttestationPositionFieldEvent {
    field: '$.position'
    value: number
  }

  export interface AttestationSlotFieldEvent {
    field: '$.slot'
    value: number
  }

  export interface AttestationUpdateFieldEvent {
    field: '$.update'
    value: Uint8Array<ArrayBuffer>
  }

  export interface AttestationHoldsFieldEvent {
    field: '$.holds'
    value: boolean
  }

  export interface AttestationWhyFieldEvent {
    field: '$.why'
    value: string
  }

  export interface AttestationPeerFieldEvent {
    field: '$.peer'
    value: Uint8Array<ArrayBuffer>
  }

  export interface AttestationSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export interface AttestationAbstainsFieldEvent {
    field: '$.abstains'
    value: boolean
  }

  export function encode (obj: Partial<Attestation>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Attestation.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Attestation>): Attestation {
    return decodeMessage(buf, Attestation.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Attestation>): Generator<AttestationVersionFieldEvent | AttestationTeamFieldEvent | AttestationStageFieldEvent | AttestationPositionFieldEvent | AttestationSlotFieldEvent | AttestationUpdateFieldEvent | AttestationHoldsFieldEvent | AttestationWhyFieldEvent | AttestationPeerFieldEvent | AttestationSignatureFieldEvent | AttestationAbstainsFieldEvent> {
    return streamMessage(buf, Attestation.codec(), opts)
  }
}

export interface StageRecord {
  version: number
  team: string
  stage: number
  slot: number
  position: number
  accepted: boolean
  delta: number
  n: number
  zeta: number
  gain: number
  kl: number
  beta: number
  backtracks: number
  reward: number
  gap: number
  stage0?: Stage0
  step: number
}

export namespace StageRecord {
  let _codec: Codec<StageRecord>

  export const codec = (): Codec<StageRecord> => {
    if (_codec == null) {
      _codec = message<StageRecord>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.team != null && obj.team !== '')) {
          w.uint32(18)
          w.string(obj.team)
        }

        if ((obj.stage != null && obj.stage !== 0)) {
          w.uint32(24)
          w.uint32(obj.stage)
        }

        if ((obj.slot != null && obj.slot !== 0)) {
          w.uint32(32)
          w.uint32(obj.slot)
        }

        if ((obj.position != null && obj.position !== 0)) {
          w.uint32(40)
          w.uint32(obj.position)
        }

        if ((obj.accepted != null && obj.accepted !== false)) {
          w.uint32(48)
          w.bool(obj.accepted)
        }

        if ((obj.delta != null && obj.delta !== 0)) {
          w.uint32(57)
          w.double(obj.delta)
        }

        if ((obj.n != null && obj.n !== 0)) {
          w.uint32(64)
          w.uint32(obj.n)
        }

        if ((obj.zeta != null && obj.zeta !== 0)) {
          w.uint32(73)
          w.double(obj.zeta)
        }

        if ((obj.gain != null && obj.gain !== 0)) {
          w.uint32(81)
          w.double(obj.gain)
        }

        if ((obj.kl != null && obj.kl !== 0)) {
          w.uint32(89)
          w.double(obj.kl)
        }

        if ((obj.beta != null && obj.beta !== 0)) {
          w.uint32(97)
          w.double(obj.beta)
        }

        if ((obj.backtracks != null && obj.backtracks !== 0)) {
          w.uint32(104)
          w.uint32(obj.backtracks)
        }

        if ((obj.reward != null && obj.reward !== 0)) {
          w.uint32(113)
          w.double(obj.reward)
        }

        if ((obj.gap != null && obj.gap !== 0)) {
          w.uint32(121)
          w.double(obj.gap)
        }

        if (obj.stage0 != null) {
          w.uint32(130)
          Stage0.codec().encode(obj.stage0, w)
        }

        if ((obj.step != null && obj.step !== 0)) {
          w.uint32(137)
          w.double(obj.step)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          team: '',
          stage: 0,
          slot: 0,
          position: 0,
          accepted: false,
          delta: 0,
          n: 0,
          zeta: 0,
          gain: 0,
          kl: 0,
          beta: 0,
          backtracks: 0,
          reward: 0,
          gap: 0,
          step: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.team = reader.string()
              break
            }
            case 3: {
              obj.stage = reader.uint32()
              break
            }
            case 4: {
              obj.slot = reader.uint32()
              break
            }
            case 5: {
              obj.position = reader.uint32()
              break
            }
            case 6: {
              obj.accepted = reader.bool()
              break
            }
            case 7: {
              obj.delta = reader.double()
              break
            }
            case 8: {
              obj.n = reader.uint32()
              break
            }
            case 9: {
              obj.zeta = reader.double()
              break
            }
            case 10: {
              obj.gain = reader.double()
              break
            }
            case 11: {
              obj.kl = reader.double()
              break
            }
            case 12: {
              obj.beta = reader.double()
              break
            }
            case 13: {
              obj.backtracks = reader.uint32()
              break
            }
            case 14: {
              obj.reward = reader.double()
              break
            }
            case 15: {
              obj.gap = reader.double()
              break
            }
            case 16: {
              obj.stage0 = Stage0.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.stage0
              })
              break
            }
            case 17: {
              obj.step = reader.double()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.team`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.stage`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.slot`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.position`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.accepted`,
                value: reader.bool()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.delta`,
                value: reader.double()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.n`,
                value: reader.uint32()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.zeta`,
                value: reader.double()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.gain`,
                value: reader.double()
              }
              break
            }
            case 11: {
              yield {
                field: `${prefix}.kl`,
                value: reader.double()
              }
              break
            }
            case 12: {
              yield {
                field: `${prefix}.beta`,
                value: reader.double()
              }
              break
            }
            case 13: {
              yield {
                field: `${prefix}.backtracks`,
                value: reader.uint32()
              }
              break
            }
            case 14: {
              yield {
                field: `${prefix}.reward`,
                value: reader.double()
              }
              break
            }
            case 15: {
              yield {
                field: `${prefix}.gap`,
                value: reader.double()
              }
              break
            }
            case 16: {
              yield * Stage0.codec().stream(reader, reader.uint32(), `${prefix}.stage0`, {
                limits: opts.limits?.stage0
              })

              break
            }
            case 17: {
              yield {
                field: `${prefix}.step`,
                value: reader.double()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface StageRecordVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface StageRecordTeamFieldEvent {
    field: '$.team'
    value: string
  }

  export interface StageRecordStageFieldEvent {
    field: '$.stage'
    value: number
  }

  export interface StageRecordSlotFieldEvent {
    field: '$.slot'
    value: number
  }

  export interface StageRecordPositionFieldEvent {
    field: '$.position'
    value: number
  }

  export interface StageRecordAcceptedFieldEvent {
    field: '$.accepted'
    value: boolean
  }

  export interface StageRecordDeltaFieldEvent {
    field: '$.delta'
    value: number
  }

  export interface StageRecordNFieldEvent {
    field: '$.n'
    value: number
  }

  export interface StageRecordZetaFieldEvent {
    field: '$.zeta'
    value: number
  }

  export interface StageRecordGainFieldEvent {
    field: '$.gain'
    value: number
  }

  export interface StageRecordKlFieldEvent {
    field: '$.kl'
    value: number
  }

  export interface StageRecordBetaFieldEvent {
    field: '$.beta'
    value: number
  }

  export interface StageRecordBacktracksFieldEvent {
    field: '$.backtracks'
    value: number
  }

  export interface StageRecordRewardFieldEvent {
    field: '$.reward'
    value: number
  }

  export interface StageRecordGapFieldEvent {
    field: '$.gap'
    value: number
  }

  export interface StageRecordStage0DeltaFromFieldEvent {
    field: '$.stage0.deltaFrom'
    value: number
  }

  export interface StageRecordStage0DeltaFieldEvent {
    field: '$.stage0.delta'
    value: number
  }

  export interface StageRecordStage0DeltaMaxFieldEvent {
    field: '$.stage0.deltaMax'
    value: number
  }

  export interface StageRecordStage0ReleasedFieldEvent {
    field: '$.stage0.released'
    value: boolean
  }

  export interface StageRecordStepFieldEvent {
    field: '$.step'
    value: number
  }

  export function encode (obj: Partial<StageRecord>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, StageRecord.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StageRecord>): StageRecord {
    return decodeMessage(buf, StageRecord.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StageRecord>): Generator<StageRecordVersionFieldEvent | StageRecordTeamFieldEvent | StageRecordStageFieldEvent | StageRecordSlotFieldEvent | StageRecordPositionFieldEvent | StageRecordAcceptedFieldEvent | StageRecordDeltaFieldEvent | StageRecordNFieldEvent | StageRecordZetaFieldEvent | StageRecordGainFieldEvent | StageRecordKlFieldEvent | StageRecordBetaFieldEvent | StageRecordBacktracksFieldEvent | StageRecordRewardFieldEvent | StageRecordGapFieldEvent | StageRecordStage0DeltaFromFieldEvent | StageRecordStage0DeltaFieldEvent | StageRecordStage0DeltaMaxFieldEvent | StageRecordStage0ReleasedFieldEvent | StageRecordStepFieldEvent> {
    return streamMessage(buf, StageRecord.codec(), opts)
  }
}

export interface Stage0 {
  deltaFrom: number
  delta: number
  deltaMax: number
  released: boolean
}

export namespace Stage0 {
  let _codec: Codec<Stage0>

  export const codec = (): Codec<Stage0> => {
    if (_codec == null) {
      _codec = message<Stage0>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.deltaFrom != null && obj.deltaFrom !== 0)) {
          w.uint32(9)
          w.double(obj.deltaFrom)
        }

        if ((obj.delta != null && obj.delta !== 0)) {
          w.uint32(17)
          w.double(obj.delta)
        }

        if ((obj.deltaMax != null && obj.deltaMax !== 0)) {
          w.uint32(25)
          w.double(obj.deltaMax)
        }

        if ((obj.released != null && obj.released !== false)) {
          w.uint32(32)
          w.bool(obj.released)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          deltaFrom: 0,
          delta: 0,
          deltaMax: 0,
          released: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.deltaFrom = reader.double()
              break
            }
            case 2: {
              obj.delta = reader.double()
              break
            }
            case 3: {
              obj.deltaMax = reader.double()
              break
            }
            case 4: {
              obj.released = reader.bool()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.deltaFrom`,
                value: reader.double()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.delta`,
                value: reader.double()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.deltaMax`,
                value: reader.double()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.released`,
                value: reader.bool()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface Stage0DeltaFromFieldEvent {
    field: '$.deltaFrom'
    value: number
  }

  export interface Stage0DeltaFieldEvent {
    field: '$.delta'
    value: number
  }

  export interface Stage0DeltaMaxFieldEvent {
    field: '$.deltaMax'
    value: number
  }

  export interface Stage0ReleasedFieldEvent {
    field: '$.released'
    value: boolean
  }

  export function encode (obj: Partial<Stage0>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Stage0.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Stage0>): Stage0 {
    return decodeMessage(buf, Stage0.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Stage0>): Generator<Stage0DeltaFromFieldEvent | Stage0DeltaFieldEvent | Stage0DeltaMaxFieldEvent | Stage0ReleasedFieldEvent> {
    return streamMessage(buf, Stage0.codec(), opts)
  }
}

export interface TokenPass {
  version: number
  team: string
  stage: number
  position: number
  from: number
  to: number
  update?: Uint8Array<ArrayBuffer>
  time: number
}

export namespace TokenPass {
  let _codec: Codec<TokenPass>

  export const codec = (): Codec<TokenPass> => {
    if (_codec == null) {
      _codec = message<TokenPass>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.team != null && obj.team !== '')) {
          w.uint32(18)
          w.string(obj.team)
        }

        if ((obj.stage != null && obj.stage !== 0)) {
          w.uint32(24)
          w.uint32(obj.stage)
        }

        if ((obj.position != null && obj.position !== 0)) {
          w.uint32(32)
          w.uint32(obj.position)
        }

        if ((obj.from != null && obj.from !== 0)) {
          w.uint32(40)
          w.uint32(obj.from)
        }

        if ((obj.to != null && obj.to !== 0)) {
          w.uint32(48)
          w.uint32(obj.to)
        }

        if (obj.update != null) {
          w.uint32(58)
          w.bytes(obj.update)
        }

        if ((obj.time != null && obj.time !== 0)) {
          w.uint32(64)
          w.uint64Number(obj.time)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          team: '',
          stage: 0,
          position: 0,
          from: 0,
          to: 0,
          time: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.team = reader.string()
              break
            }
            case 3: {
              obj.stage = reader.uint32()
              break
            }
            case 4: {
              obj.position = reader.uint32()
              break
            }
            case 5: {
              obj.from = reader.uint32()
              break
            }
            case 6: {
              obj.to = reader.uint32()
              break
            }
            case 7: {
              obj.update = reader.bytes()
              break
            }
            case 8: {
              obj.time = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.team`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.stage`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.position`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.from`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.to`,
                value: reader.uint32()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.update`,
                value: reader.bytes()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.time`,
                value: reader.uint64Number()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface TokenPassVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface TokenPassTeamFieldEvent {
    field: '$.team'
    value: string
  }

  export interface TokenPassStageFieldEvent {
    field: '$.stage'
    value: number
  }

  export interface TokenPassPositionFieldEvent {
    field: '$.position'
    value: number
  }

  export interface TokenPassFromFieldEvent {
    field: '$.from'
    value: number
  }

  export interface TokenPassToFieldEvent {
    field: '$.to'
    value: number
  }

  export interface TokenPassUpdateFieldEvent {
    field: '$.update'
    value: Uint8Array<ArrayBuffer>
  }

  export interface TokenPassTimeFieldEvent {
    field: '$.time'
    value: number
  }

  export function encode (obj: Partial<TokenPass>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, TokenPass.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TokenPass>): TokenPass {
    return decodeMessage(buf, TokenPass.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TokenPass>): Generator<TokenPassVersionFieldEvent | TokenPassTeamFieldEvent | TokenPassStageFieldEvent | TokenPassPositionFieldEvent | TokenPassFromFieldEvent | TokenPassToFieldEvent | TokenPassUpdateFieldEvent | TokenPassTimeFieldEvent> {
    return streamMessage(buf, TokenPass.codec(), opts)
  }
}

export interface TokenAck {
  version: number
  team: string
  stage: number
  position: number
  slot: number
}

export namespace TokenAck {
  let _codec: Codec<TokenAck>

  export const codec = (): Codec<TokenAck> => {
    if (_codec == null) {
      _codec = message<TokenAck>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.team != null && obj.team !== '')) {
          w.uint32(18)
          w.string(obj.team)
        }

        if ((obj.stage != null && obj.stage !== 0)) {
          w.uint32(24)
          w.uint32(obj.stage)
        }

        if ((obj.position != null && obj.position !== 0)) {
          w.uint32(32)
          w.uint32(obj.position)
        }

        if ((obj.slot != null && obj.slot !== 0)) {
          w.uint32(40)
          w.uint32(obj.slot)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          team: '',
          stage: 0,
          position: 0,
          slot: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.team = reader.string()
              break
            }
            case 3: {
              obj.stage = reader.uint32()
              break
            }
            case 4: {
              obj.position = reader.uint32()
              break
            }
            case 5: {
              obj.slot = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.team`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.stage`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.position`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.slot`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface TokenAckVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface TokenAckTeamFieldEvent {
    field: '$.team'
    value: string
  }

  export interface TokenAckStageFieldEvent {
    field: '$.stage'
    value: number
  }

  export interface TokenAckPositionFieldEvent {
    field: '$.position'
    value: number
  }

  export interface TokenAckSlotFieldEvent {
    field: '$.slot'
    value: number
  }

  export function encode (obj: Partial<TokenAck>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, TokenAck.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TokenAck>): TokenAck {
    return decodeMessage(buf, TokenAck.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TokenAck>): Generator<TokenAckVersionFieldEvent | TokenAckTeamFieldEvent | TokenAckStageFieldEvent | TokenAckPositionFieldEvent | TokenAckSlotFieldEvent> {
    return streamMessage(buf, TokenAck.codec(), opts)
  }
}

export enum BlockKind {
  SHARD = 'SHARD',
  UPDATE = 'UPDATE',
  PARAMS = 'PARAMS'
}

enum __BlockKindValues {
  SHARD = 0,
  UPDATE = 1,
  PARAMS = 2
}

export namespace BlockKind {
  export const codec = (): Codec<BlockKind> => {
    return enumeration<BlockKind>(__BlockKindValues)
  }
}

export interface Announce {
  version: number
  team: string
  stage: number
  kind: BlockKind
  cid?: Uint8Array<ArrayBuffer>
  turns: number
  size: number
  rollout: string
}

export namespace Announce {
  let _codec: Codec<Announce>

  export const codec = (): Codec<Announce> => {
    if (_codec == null) {
      _codec = message<Announce>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.team != null && obj.team !== '')) {
          w.uint32(18)
          w.string(obj.team)
        }

        if ((obj.stage != null && obj.stage !== 0)) {
          w.uint32(24)
          w.uint32(obj.stage)
        }

        if (obj.kind != null && __BlockKindValues[obj.kind] !== 0) {
          w.uint32(32)
          BlockKind.codec().encode(obj.kind, w)
        }

        if (obj.cid != null) {
          w.uint32(42)
          w.bytes(obj.cid)
        }

        if ((obj.turns != null && obj.turns !== 0)) {
          w.uint32(48)
          w.uint32(obj.turns)
        }

        if ((obj.size != null && obj.size !== 0)) {
          w.uint32(56)
          w.uint32(obj.size)
        }

        if ((obj.rollout != null && obj.rollout !== '')) {
          w.uint32(66)
          w.string(obj.rollout)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          team: '',
          stage: 0,
          kind: BlockKind.SHARD,
          turns: 0,
          size: 0,
          rollout: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.team = reader.string()
              break
            }
            case 3: {
              obj.stage = reader.uint32()
              break
            }
            case 4: {
              obj.kind = BlockKind.codec().decode(reader)
              break
            }
            case 5: {
              obj.cid = reader.bytes()
              break
            }
            case 6: {
              obj.turns = reader.uint32()
              break
            }
            case 7: {
              obj.size = reader.uint32()
              break
            }
            case 8: {
              obj.rollout = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.team`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.stage`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.kind`,
                value: BlockKind.codec().decode(reader)
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.cid`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.turns`,
                value: reader.uint32()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.size`,
                value: reader.uint32()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.rollout`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface AnnounceVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface AnnounceTeamFieldEvent {
    field: '$.team'
    value: string
  }

  export interface AnnounceStageFieldEvent {
    field: '$.stage'
    value: number
  }

  export interface AnnounceKindFieldEvent {
    field: '$.kind'
    value: BlockKind
  }

  export interface AnnounceCidFieldEvent {
    field: '$.cid'
    value: Uint8Array<ArrayBuffer>
  }

  export interface AnnounceTurnsFieldEvent {
    field: '$.turns'
    value: number
  }

  export interface AnnounceSizeFieldEvent {
    field: '$.size'
    value: number
  }

  export interface AnnounceRolloutFieldEvent {
    field: '$.rollout'
    value: string
  }

  export function encode (obj: Partial<Announce>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Announce.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Announce>): Announce {
    return decodeMessage(buf, Announce.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Announce>): Generator<AnnounceVersionFieldEvent | AnnounceTeamFieldEvent | AnnounceStageFieldEvent | AnnounceKindFieldEvent | AnnounceCidFieldEvent | AnnounceTurnsFieldEvent | AnnounceSizeFieldEvent | AnnounceRolloutFieldEvent> {
    return streamMessage(buf, Announce.codec(), opts)
  }
}

export interface ChunkEntry {
  name: string
  bytes: number
  chunks: Uint8Array<ArrayBuffer>[]
}

export namespace ChunkEntry {
  let _codec: Codec<ChunkEntry>

  export const codec = (): Codec<ChunkEntry> => {
    if (_codec == null) {
      _codec = message<ChunkEntry>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if ((obj.bytes != null && obj.bytes !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.bytes)
        }

        if (obj.chunks != null && obj.chunks.length > 0) {
          for (const value of obj.chunks) {
            w.uint32(26)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          bytes: 0,
          chunks: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              obj.bytes = reader.uint64Number()
              break
            }
            case 3: {
              if (opts.limits?.chunks != null && obj.chunks.length === opts.limits.chunks) {
                throw new MaxLengthError('Decode error - repeated field "chunks" had too many elements')
              }

              obj.chunks.push(reader.bytes())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          chunks: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.bytes`,
                value: reader.uint64Number()
              }
              break
            }
            case 3: {
              if (opts.limits?.chunks != null && obj.chunks === opts.limits.chunks) {
                throw new MaxLengthError('Streaming decode error - repeated field "chunks" had too many elements')
              }

              yield {
                field: `${prefix}.chunks[]`,
                index: obj.chunks,
                value: reader.bytes()
              }

              obj.chunks++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ChunkEntryNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface ChunkEntryBytesFieldEvent {
    field: '$.bytes'
    value: number
  }

  export interface ChunkEntryChunksFieldEvent {
    field: '$.chunks[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<ChunkEntry>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ChunkEntry.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChunkEntry>): ChunkEntry {
    return decodeMessage(buf, ChunkEntry.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChunkEntry>): Generator<ChunkEntryNameFieldEvent | ChunkEntryBytesFieldEvent | ChunkEntryChunksFieldEvent> {
    return streamMessage(buf, ChunkEntry.codec(), opts)
  }
}

export interface ChunkManifest {
  version: number
  chunkBytes: number
  entries: ChunkEntry[]
  meta?: Uint8Array<ArrayBuffer>
}

export namespace ChunkManifest {
  let _codec: Codec<ChunkManifest>

  export const codec = (): Codec<ChunkManifest> => {
    if (_codec == null) {
      _codec = message<ChunkManifest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.chunkBytes != null && obj.chunkBytes !== 0)) {
          w.uint32(16)
          w.uint32(obj.chunkBytes)
        }

        if (obj.entries != null && obj.entries.length > 0) {
          for (const value of obj.entries) {
            w.uint32(26)
            ChunkEntry.codec().encode(value, w)
          }
        }

        if (obj.meta != null) {
          w.uint32(34)
          w.bytes(obj.meta)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          chunkBytes: 0,
          entries: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.chunkBytes = reader.uint32()
              break
            }
            case 3: {
              if (opts.limits?.entries != null && obj.entries.length === opts.limits.entries) {
                throw new MaxLengthError('Decode error - repeated field "entries" had too many elements')
              }

              obj.entries.push(ChunkEntry.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.entries$
              }))
              break
            }
            case 4: {
              obj.meta = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          entries: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.chunkBytes`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              if (opts.limits?.entries != null && obj.entries === opts.limits.entries) {
                throw new MaxLengthError('Streaming decode error - repeated field "entries" had too many elements')
              }

              for (const evt of ChunkEntry.codec().stream(reader, reader.uint32(), `${prefix}.entries[]`, {
                limits: opts.limits?.entries$
              })) {
                yield {
                  ...evt,
                  index: obj.entries
                }
              }

              obj.entries++

              break
            }
            case 4: {
              yield {
                field: `${prefix}.meta`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ChunkManifestVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface ChunkManifestChunkBytesFieldEvent {
    field: '$.chunkBytes'
    value: number
  }

  export interface ChunkManifestEntriesNameFieldEvent {
    field: '$.entries[].name'
    value: string
    index: number
  }

  export interface ChunkManifestEntriesBytesFieldEvent {
    field: '$.entries[].bytes'
    value: number
    index: number
  }

  export interface ChunkManifestEntriesChunksFieldEvent {
    field: '$.entries[].chunks[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface ChunkManifestMetaFieldEvent {
    field: '$.meta'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<ChunkManifest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ChunkManifest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChunkManifest>): ChunkManifest {
    return decodeMessage(buf, ChunkManifest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChunkManifest>): Generator<ChunkManifestVersionFieldEvent | ChunkManifestChunkBytesFieldEvent | ChunkManifestEntriesNameFieldEvent | ChunkManifestEntriesBytesFieldEvent | ChunkManifestEntriesChunksFieldEvent | ChunkManifestMetaFieldEvent> {
    return streamMessage(buf, ChunkManifest.codec(), opts)
  }
}

export interface ChunkHave {
  version: number
  manifest?: Uint8Array<ArrayBuffer>
  bytes: number
}

export namespace ChunkHave {
  let _codec: Codec<ChunkHave>

  export const codec = (): Codec<ChunkHave> => {
    if (_codec == null) {
      _codec = message<ChunkHave>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if (obj.manifest != null) {
          w.uint32(18)
          w.bytes(obj.manifest)
        }

        if ((obj.bytes != null && obj.bytes !== 0)) {
          w.uint32(24)
          w.uint64Number(obj.bytes)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          bytes: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.manifest = reader.bytes()
              break
            }
            case 3: {
              obj.bytes = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.manifest`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.bytes`,
                value: reader.uint64Number()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ChunkHaveVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface ChunkHaveManifestFieldEvent {
    field: '$.manifest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ChunkHaveBytesFieldEvent {
    field: '$.bytes'
    value: number
  }

  export function encode (obj: Partial<ChunkHave>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ChunkHave.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChunkHave>): ChunkHave {
    return decodeMessage(buf, ChunkHave.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChunkHave>): Generator<ChunkHaveVersionFieldEvent | ChunkHaveManifestFieldEvent | ChunkHaveBytesFieldEvent> {
    return streamMessage(buf, ChunkHave.codec(), opts)
  }
}
