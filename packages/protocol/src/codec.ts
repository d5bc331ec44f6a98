import { type Options, Packr } from 'msgpackr';

// One shared Packr configured for cross-language bytes: no records extension
// (plain msgpack maps), maps decode to plain objects, undefined is omitted.
// msgpackr renames a `__proto__` key on decode, so no prototype can be set.
// `skipValues` is supported by msgpackr but missing from its type declarations.
const options: Options & { skipValues: unknown[] } = {
  useRecords: false,
  mapsAsObjects: true,
  skipValues: [undefined],
  int64AsType: 'number',
  moreTypes: false,
};
const packr = new Packr(options);

export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes msgpack bytes; throws on anything that is not one complete msgpack value. */
export function decode(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}
