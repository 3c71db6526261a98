/** A minimal PNG writer (no interlacing, filter 0 on every row): valid seeds for the decoder's fuzzing, and CRC repair for mutated ones. */
import * as zlib from "zlib";

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, body: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, "latin1");
  Buffer.from(body).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

export interface PngSpec {
  width: number;
  height: number;
  depth: number;
  colour: number;
  /** Bytes per row after the filter byte. */
  rowBytes: number;
  palette?: Uint8Array;
  trns?: Uint8Array;
}

/** A PNG of `spec` whose rows hold a deterministic pattern. */
export function encodePng(spec: PngSpec): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(spec.width, 0);
  ihdr.writeUInt32BE(spec.height, 4);
  ihdr[8] = spec.depth;
  ihdr[9] = spec.colour;
  const raw = Buffer.alloc(spec.height * (1 + spec.rowBytes));
  for (let y = 0; y < spec.height; y++) for (let i = 0; i < spec.rowBytes; i++) raw[y * (1 + spec.rowBytes) + 1 + i] = (y * 7 + i * 3) & (spec.palette ? 0x11 : 0xff);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    ...(spec.palette ? [chunk("PLTE", spec.palette)] : []),
    ...(spec.trns ? [chunk("tRNS", spec.trns)] : []),
    chunk("IDAT", zlib.deflateSync(raw)),
    chunk("IEND", new Uint8Array()),
  ]);
}

/** Seeds: grey 8-bit, RGBA 8-bit, grey 16-bit, a 4-bit palette with transparency. */
export function seedPngs(): Buffer[] {
  return [
    encodePng({ width: 9, height: 7, depth: 8, colour: 0, rowBytes: 9 }),
    encodePng({ width: 5, height: 4, depth: 8, colour: 6, rowBytes: 20 }),
    encodePng({ width: 6, height: 3, depth: 16, colour: 0, rowBytes: 12 }),
    encodePng({ width: 7, height: 5, depth: 4, colour: 3, rowBytes: 4, palette: Uint8Array.from({ length: 6 }, (_, i) => i * 40), trns: Uint8Array.of(0, 128) }),
  ];
}

/** The same bytes with every chunk's CRC recomputed (as far as the chunk lengths let it walk), so damage reaches past the CRC check. */
export function fixCrcs(png: Uint8Array): Buffer {
  const out = Buffer.from(png);
  let pos = 8;
  while (pos + 12 <= out.length) {
    const len = out.readUInt32BE(pos);
    if (pos + 12 + len > out.length) break;
    out.writeUInt32BE(crc32(out.subarray(pos + 4, pos + 8 + len)), pos + 8 + len);
    pos += 12 + len;
  }
  return out;
}
