/** Turns an xwd screenshot (24/32-bit TrueColor, as Xvfb makes) into a PNG, so people can look at it. */

const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

async function deflate(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([data]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** True when the image is more than one flat colour (something was drawn). */
export function hasDrawing(xwd: Uint8Array): boolean {
  return colours(xwd, 2) >= 2;
}

/**
 * How many distinct pixel values the image holds, counting up to `enough`: a mapped window that has
 * only cleared its background adds one or two, drawn widgets and text many more.
 */
export function colours(xwd: Uint8Array, enough: number): number {
  const v = new DataView(xwd.buffer, xwd.byteOffset, xwd.length);
  const start = v.getUint32(0) + v.getUint32(19 * 4) * 12;
  const seen = new Set<number>();
  for (let i = start; i + 4 <= xwd.length && seen.size < enough; i += 4) seen.add(v.getUint32(i));
  return seen.size;
}

export async function xwdToPng(xwd: Uint8Array): Promise<Uint8Array> {
  const v = new DataView(xwd.buffer, xwd.byteOffset, xwd.length);
  const f = (i: number) => v.getUint32(i * 4);
  const [headerSize, width, height, byteOrder, bpp, bytesPerLine, ncolors] = [
    f(0),
    f(4),
    f(5),
    f(7),
    f(11),
    f(12),
    f(19),
  ];
  if (bpp !== 32 && bpp !== 24) throw new Error(`xwd with ${bpp} bits per pixel`);
  const pixels = headerSize + ncolors * 12;
  const raw = new Uint8Array(height * (1 + width * 3));
  const bytes = bpp / 8, lsb = byteOrder === 0;
  const pixel = (at: number) =>
    bytes === 4
      ? v.getUint32(at, lsb)
      : lsb
      ? xwd[at] | (xwd[at + 1] << 8) | (xwd[at + 2] << 16)
      : (xwd[at] << 16) | (xwd[at + 1] << 8) | xwd[at + 2];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = pixel(pixels + y * bytesPerLine + x * bytes);
      raw.set([(p >> 16) & 0xff, (p >> 8) & 0xff, p & 0xff], y * (1 + width * 3) + 1 + x * 3);
    }
  }
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", await deflate(raw)),
    chunk("IEND", new Uint8Array()),
  ];
  const png = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    png.set(p, off);
    off += p.length;
  }
  return png;
}

async function inflate(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * How many distinct colours a PNG holds, counting up to `enough` (8-bit RGB or RGBA, not interlaced:
 * what weston's screenshooter writes).
 */
export async function pngColours(png: Uint8Array, enough: number): Promise<number> {
  const v = new DataView(png.buffer, png.byteOffset, png.length);
  let width = 0, height = 0, channels = 0;
  const idat: Uint8Array[] = [];
  for (let at = 8; at + 8 <= png.length;) {
    const len = v.getUint32(at), type = new TextDecoder().decode(png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + len);
    if (type === "IHDR") {
      [width, height] = [v.getUint32(at + 8), v.getUint32(at + 12)];
      if (data[8] !== 8 || (data[9] !== 2 && data[9] !== 6) || data[12] !== 0) throw new Error("an unexpected PNG");
      channels = data[9] === 2 ? 3 : 4;
    }
    if (type === "IDAT") idat.push(data);
    at += 12 + len;
  }
  const all = new Uint8Array(idat.reduce((n, d) => n + d.length, 0));
  idat.reduce((off, d) => (all.set(d, off), off + d.length), 0);
  const raw = await inflate(all);
  const stride = width * channels;
  let prev = new Uint8Array(stride);
  const seen = new Set<number>();
  for (let y = 0; y < height && seen.size < enough; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.slice(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? line[i - channels] : 0, b = prev[i], c = i >= channels ? prev[i - channels] : 0;
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const pred = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      line[i] = (line[i] + pred) & 0xff;
    }
    for (let i = 0; i < stride; i += channels) seen.add((line[i] << 16) | (line[i + 1] << 8) | line[i + 2]);
    prev = line;
  }
  return seen.size;
}
