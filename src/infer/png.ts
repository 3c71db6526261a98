/**
 * A PNG decoder (ISO/IEC 15948): every colour type (grey, RGB, palette, grey+alpha, RGBA), bit
 * depths 1–16, Adam7 interlacing, all five filters; chunk CRCs are checked. The result is
 * 8 bits per sample (16-bit samples keep their high byte, as PIL does), channels as stored
 * (a palette image expands to RGB, or RGBA when it has tRNS).
 */
import * as zlib from "zlib";
import { BadDataError } from "../graph/errors";

export interface Image {
  readonly width: number;
  readonly height: number;
  /** 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA */
  readonly channels: 1 | 2 | 3 | 4;
  /** height × width × channels, row-major, interleaved */
  readonly data: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Samples per pixel of each colour type. */
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ALLOWED_DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
/** Adam7 passes: x0, y0, dx, dy. */
const ADAM7 = [
  [0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2],
] as const;
/** Images larger than this many pixels are refused rather than exhausting memory. */
const MAX_PIXELS = 1 << 28;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && Buffer.from(bytes.subarray(0, 8)).equals(SIGNATURE);
}

interface Header {
  readonly width: number;
  readonly height: number;
  readonly depth: number;
  readonly colour: number;
  readonly interlace: number;
}

/** The chunks a decoder needs, checked one by one (length, CRC, order, header values). */
interface Chunks {
  readonly header: Header;
  readonly palette?: Uint8Array;
  readonly trns?: Uint8Array;
  readonly idat: readonly Buffer[];
}

type Fail = (why: string) => never;

export function decodePng(bytes: Uint8Array, source: string): Image {
  const fail: Fail = (why) => {
    throw new BadDataError(`${source}: ${why}`);
  };
  if (!isPng(bytes)) fail("not a PNG file (no PNG signature)");
  const chunks = readChunks(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), fail);
  const h = chunks.header;
  if (h.colour === 3 && !chunks.palette) fail("palette image without PLTE chunk");
  if (chunks.idat.length === 0) fail("no image data (IDAT)");
  // The scanlines the header implies: inflating stops there, and a shorter stream is refused
  // before the image is allocated, so memory follows the data the file holds, not its header.
  const expected = rawSize(h);
  let raw: Buffer;
  try {
    raw = zlib.inflateSync(Buffer.concat(chunks.idat), { maxOutputLength: expected, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  } catch (e) {
    return fail(`corrupt image data (${(e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" ? `more than the ${expected} bytes of a ${h.width}×${h.height} image` : (e as Error).message})`);
  }
  if (raw.length < expected) fail(`truncated image data (${raw.length} of ${expected} bytes)`);
  const plane = unfilterImage(raw, h, fail);
  if (h.colour !== 3) return { width: h.width, height: h.height, channels: SAMPLES[h.colour] as 1 | 2 | 3 | 4, data: plane };
  return expandPalette(plane, h, chunks.palette!, chunks.trns, fail);
}

function readChunks(buf: Buffer, fail: Fail): Chunks {
  let pos = 8;
  let header: Header | undefined;
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idat: Buffer[] = [];
  for (;;) {
    if (pos + 12 > buf.length) fail("truncated file (no IEND chunk)");
    const len = buf.readUInt32BE(pos);
    const type = buf.toString("latin1", pos + 4, pos + 8);
    // Chunk types are four ASCII letters; anything else is damage, and not text to print.
    if (!/^[A-Za-z]{4}$/.test(type)) fail(`bad chunk type at byte ${pos + 4} (not four letters)`);
    if (pos + 12 + len > buf.length) fail(`truncated ${type} chunk`);
    const body = buf.subarray(pos + 8, pos + 8 + len);
    if (crc32(buf.subarray(pos + 4, pos + 8 + len)) !== buf.readUInt32BE(pos + 8 + len)) fail(`corrupt ${type} chunk (CRC mismatch)`);
    pos += 12 + len;
    if (!header && type !== "IHDR") fail("first chunk is not IHDR");
    switch (type) {
      case "IHDR":
        header = readHeader(body, fail);
        break;
      case "PLTE":
        if (len % 3 !== 0 || len === 0 || len > 768) fail("bad PLTE chunk");
        palette = new Uint8Array(body);
        break;
      case "tRNS":
        trns = new Uint8Array(body);
        break;
      case "IDAT":
        idat.push(body);
        break;
      case "IEND":
        return { header: header!, palette, trns, idat };
      default:
        // a critical chunk (upper-case first letter) we do not know cannot be skipped
        if (type.charCodeAt(0) < 0x61) fail(`unknown critical chunk ${type}`);
    }
  }
}

function readHeader(body: Buffer, fail: Fail): Header {
  if (body.length !== 13) fail("bad IHDR chunk");
  const h: Header = { width: body.readUInt32BE(0), height: body.readUInt32BE(4), depth: body[8], colour: body[9], interlace: body[12] };
  const { width, height, depth, colour } = h;
  if (!(colour in SAMPLES)) fail(`unknown colour type ${colour}`);
  if (!ALLOWED_DEPTHS[colour].includes(depth)) fail(`bit depth ${depth} is not allowed for colour type ${colour}`);
  if (width === 0 || height === 0) fail(`empty image (${width}×${height})`);
  if (width * height > MAX_PIXELS) fail(`image too large (${width}×${height})`);
  if (body[10] !== 0 || body[11] !== 0 || h.interlace > 1) fail("unknown compression, filter or interlace method");
  return h;
}

/** Bytes of the filtered scanlines of every pass (a filter byte per line). */
function rawSize(h: Header): number {
  const bitsPerPixel = SAMPLES[h.colour] * h.depth;
  let total = 0;
  for (const [x0, y0, dx, dy] of h.interlace ? ADAM7 : ([[0, 0, 1, 1]] as const)) {
    const pw = Math.ceil((h.width - x0) / dx);
    const ph = Math.ceil((h.height - y0) / dy);
    if (pw > 0 && ph > 0) total += ph * (1 + Math.ceil((pw * bitsPerPixel) / 8));
  }
  return total;
}

/** Samples of the whole image, 8-bit, before palette expansion (every Adam7 pass put in place). */
function unfilterImage(raw: Buffer, h: Header, fail: Fail): Uint8Array {
  const samples = SAMPLES[h.colour];
  const bitsPerPixel = samples * h.depth;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const plane = new Uint8Array(h.width * h.height * samples);
  // Sub-byte grey levels stretch to 0–255 (1-bit: 0/255); palette indices stay indices.
  const greyScale = h.colour === 0 && h.depth < 8 ? 255 / ((1 << h.depth) - 1) : 1;
  let at = 0;
  const passes = h.interlace ? ADAM7 : ([[0, 0, 1, 1]] as const);
  for (const [x0, y0, dx, dy] of passes) {
    const pw = Math.ceil((h.width - x0) / dx);
    const ph = Math.ceil((h.height - y0) / dy);
    if (pw <= 0 || ph <= 0) continue;
    const stride = Math.ceil((pw * bitsPerPixel) / 8);
    let prev = new Uint8Array(stride);
    for (let r = 0; r < ph; r++) {
      if (at + 1 + stride > raw.length) fail("truncated image data");
      const filter = raw[at];
      const line = new Uint8Array(raw.subarray(at + 1, at + 1 + stride));
      at += 1 + stride;
      unfilter(filter, line, prev, bpp) || fail(`bad filter type ${filter}`);
      const y = y0 + r * dy;
      for (let c = 0; c < pw; c++) {
        const x = x0 + c * dx;
        for (let s = 0; s < samples; s++) plane[(y * h.width + x) * samples + s] = sample(line, c * samples + s, h.depth) * greyScale;
      }
      prev = line;
    }
  }
  return plane;
}

/** Palette indices → RGB, or RGBA when the image has a tRNS chunk. */
function expandPalette(plane: Uint8Array, h: Header, pal: Uint8Array, trns: Uint8Array | undefined, fail: Fail): Image {
  const channels = trns ? 4 : 3;
  const out = new Uint8Array(h.width * h.height * channels);
  for (let i = 0; i < h.width * h.height; i++) {
    const k = plane[i];
    if (3 * k + 2 >= pal.length) fail(`palette index ${k} outside the ${pal.length / 3}-entry palette`);
    out[i * channels] = pal[3 * k];
    out[i * channels + 1] = pal[3 * k + 1];
    out[i * channels + 2] = pal[3 * k + 2];
    if (trns) out[i * channels + 3] = k < trns.length ? trns[k] : 255;
  }
  return { width: h.width, height: h.height, channels, data: out };
}

/** Reverses one scanline's filter in place; false for an unknown filter type. */
function unfilter(filter: number, line: Uint8Array, prev: Uint8Array, bpp: number): boolean {
  const n = line.length;
  switch (filter) {
    case 0:
      return true;
    case 1:
      for (let i = bpp; i < n; i++) line[i] = (line[i] + line[i - bpp]) & 0xff;
      return true;
    case 2:
      for (let i = 0; i < n; i++) line[i] = (line[i] + prev[i]) & 0xff;
      return true;
    case 3:
      for (let i = 0; i < n; i++) line[i] = (line[i] + (((i >= bpp ? line[i - bpp] : 0) + prev[i]) >> 1)) & 0xff;
      return true;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? line[i - bpp] : 0;
        const b = prev[i];
        const c = i >= bpp ? prev[i - bpp] : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        line[i] = (line[i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 0xff;
      }
      return true;
    default:
      return false;
  }
}

/** The i-th sample of an unfiltered scanline: sub-byte depths as their value, 16-bit as its high byte. */
function sample(line: Uint8Array, i: number, depth: number): number {
  switch (depth) {
    case 8:
      return line[i];
    case 16:
      return line[2 * i];
    default: {
      const perByte = 8 / depth;
      const shift = 8 - depth * ((i % perByte) + 1);
      return (line[Math.floor(i / perByte)] >> shift) & ((1 << depth) - 1);
    }
  }
}
