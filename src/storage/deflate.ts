/**
 * A raw DEFLATE (RFC 1951) encoder for segment blocks that reuses its working memory.
 *
 * fflate's `deflateSync` allocates ~245 KB of typed arrays per call (the hash chains, the symbol
 * buffer, the output and a copy of it). Compaction compresses every 16 KiB block it writes, so
 * that garbage piled up as ArrayBuffers the engine collects lazily, and it was most of the
 * resident memory above the configured budgets (bench `storage memory`). This is fflate's level
 * 1-9 encoder (MIT, Copyright (c) 2026 Arjun Barrett; same algorithm, same tables, the same
 * output bytes for the same input, which `deflate.test.ts` checks) restructured so that the chains,
 * symbol buffer, frequency tables, code tables and the output live in one `DeflateEncoder` and are
 * reused: one call allocates only a few small Huffman-tree objects on the JS heap.
 * The output is plain DEFLATE: `inflateSync` (fflate) reads it; the segment format is unchanged.
 */

const u8 = Uint8Array;
const u16 = Uint16Array;
const i32 = Int32Array;

// fixed length / distance extra bits, code length index map
const fleb = new u8([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0, 0, 0, 0]);
const fdeb = new u8([0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 0, 0]);
const clim = new u8([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]);

/** value -> (extra bits value << 5) | code index, for lengths and distances. */
function reverseBase(eb: Uint8Array, start: number): Int32Array {
  const b = new u16(31);
  for (let i = 0; i < 31; ++i) b[i] = start += 1 << eb[i - 1]!;
  const r = new i32(b[30]!);
  for (let i = 1; i < 30; ++i) for (let j = b[i]!; j < b[i + 1]!; ++j) r[j] = ((j - b[i]!) << 5) | i;
  return r;
}
/**
 * The encoder's length and distance maps (revfd has 32,769 entries), built at the first
 * `deflate`, not at import: the loop runs in the interpreter, ~1-3 ms of every cold start,
 * and only compaction with `compressionLevel` > 0 deflates.
 */
let revTables: { revfl: Int32Array; revfd: Int32Array } | undefined;
function reverseTables(): { revfl: Int32Array; revfd: Int32Array } {
  if (revTables === undefined) {
    const revfl = reverseBase(fleb, 2);
    revfl[258] = 28;
    revTables = { revfl, revfd: reverseBase(fdeb, 0) };
  }
  return revTables;
}

/**
 * 15-bit bit reversal from an 8-bit table: a 32768-entry table built at module load cost ~10 ms
 * of every cold start (the loop runs in the interpreter), for a few hundred lookups per block.
 */
const rev8 = new u8(256);
for (let i = 0; i < 256; ++i) {
  let x = ((i & 0xaa) >> 1) | ((i & 0x55) << 1);
  x = ((x & 0xcc) >> 2) | ((x & 0x33) << 2);
  rev8[i] = ((x & 0xf0) >> 4) | ((x & 0x0f) << 4);
}
const rev15 = (v: number): number => ((rev8[v & 0xff]! << 8) | rev8[v >> 8]!) >> 1;

/** Canonical (bit-reversed) codes for code lengths cd[0..n) into co; `mb` = max bits. */
function hMap(cd: Uint8Array, n: number, mb: number, co: Uint16Array, l: Uint16Array, le: Uint16Array): void {
  l.fill(0, 0, mb);
  for (let i = 0; i < n; ++i) if (cd[i]) l[cd[i]! - 1]!++;
  le[0] = 0;
  for (let i = 1; i < mb; ++i) le[i] = (le[i - 1]! + l[i - 1]!) << 1;
  for (let i = 0; i < n; ++i) {
    const c = cd[i]!;
    co[i] = c ? rev15(le[c - 1]!++) >> (15 - c) : 0;
  }
}

// fixed trees
const flt = new u8(288);
for (let i = 0; i < 144; ++i) flt[i] = 8;
for (let i = 144; i < 256; ++i) flt[i] = 9;
for (let i = 256; i < 280; ++i) flt[i] = 7;
for (let i = 280; i < 288; ++i) flt[i] = 8;
const fdt = new u8(32).fill(5);
const flm = new u16(288);
const fdm = new u16(32);
hMap(flt, 288, 9, flm, new u16(15), new u16(15));
hMap(fdt, 32, 5, fdm, new u16(15), new u16(15));

// (nice << 13) | chain, per level 1-9
const deo = new i32([65540, 131080, 131088, 131104, 262176, 1048704, 1048832, 2114560, 2117632]);

function wbits(d: Uint8Array, p: number, v: number): void {
  v <<= p & 7;
  const o = (p / 8) | 0;
  d[o]! |= v;
  d[o + 1]! |= v >> 8;
}
function wbits16(d: Uint8Array, p: number, v: number): void {
  v <<= p & 7;
  const o = (p / 8) | 0;
  d[o]! |= v;
  d[o + 1]! |= v >> 8;
  d[o + 2]! |= v >> 16;
}
const shft = (p: number): number => ((p + 7) / 8) | 0;

interface HNode {
  s: number;
  f: number;
  l?: HNode;
  r?: HNode;
}

function ln(n: HNode, l: Uint8Array, d: number): number {
  if (n.s === -1) return Math.max(ln(n.l!, l, d + 1), ln(n.r!, l, d + 1));
  l[n.s] = d;
  return d;
}

/**
 * Code lengths for the frequencies d[0..n) into `out` (zero-filled first, length >= n), limited
 * to `mb` bits; returns the longest code length (fflate's hTree, UZIP.js's algorithm).
 */
function hTree(d: Uint16Array, n: number, mb: number, out: Uint8Array): number {
  out.fill(0);
  const t: HNode[] = [];
  for (let i = 0; i < n; ++i) if (d[i]) t.push({ s: i, f: d[i]! });
  const s = t.length;
  const t2 = t.slice();
  if (!s) return 0;
  if (s === 1) {
    out[t[0]!.s] = 1;
    return 1;
  }
  t.sort((a, b) => a.f - b.f);
  t.push({ s: -1, f: 25001 });
  let l = t[0]!;
  let r = t[1]!;
  let i0 = 0;
  let i1 = 1;
  let i2 = 2;
  t[0] = { s: -1, f: l.f + r.f, l, r };
  while (i1 !== s - 1) {
    l = t[t[i0]!.f < t[i2]!.f ? i0++ : i2++]!;
    r = t[i0 !== i1 && t[i0]!.f < t[i2]!.f ? i0++ : i2++]!;
    t[i1++] = { s: -1, f: l.f + r.f, l, r };
  }
  // code lengths (fflate sizes its array by the largest symbol; `out` is larger and zero beyond)
  const tr = out;
  let mbt = ln(t[i1 - 1]!, tr, 0);
  if (mbt > mb) {
    let i = 0;
    let dt = 0;
    const lft = mbt - mb;
    const cst = 1 << lft;
    t2.sort((a, b) => tr[b.s]! - tr[a.s]! || a.f - b.f);
    for (; i < s; ++i) {
      const sy = t2[i]!.s;
      if (tr[sy]! > mb) {
        dt += cst - (1 << (mbt - tr[sy]!));
        tr[sy] = mb;
      } else break;
    }
    dt >>= lft;
    while (dt > 0) {
      const sy = t2[i]!.s;
      if (tr[sy]! < mb) dt -= 1 << (mb - tr[sy]!++ - 1);
      else ++i;
    }
    for (; i >= 0 && dt; --i) {
      const sy = t2[i]!.s;
      if (tr[sy] === mb) {
        tr[sy]!--;
        ++dt;
      }
    }
    mbt = mb;
  }
  return mbt;
}

/** Run-length codes of the code lengths c[0..n) into cl; returns (count << 16) | trimmed length. */
function lc(c: Uint8Array, n: number, cl: Uint16Array): number {
  let s = n;
  while (s && !c[--s]);
  ++s;
  let cli = 0;
  let cln = c[0]!;
  let cls = 1;
  for (let i = 1; i <= s; ++i) {
    if (c[i] === cln && i !== s) ++cls;
    else {
      if (!cln && cls > 2) {
        for (; cls > 138; cls -= 138) cl[cli++] = 32754;
        if (cls > 2) {
          cl[cli++] = cls > 10 ? ((cls - 11) << 5) | 28690 : ((cls - 3) << 5) | 12305;
          cls = 0;
        }
      } else if (cls > 3) {
        cl[cli++] = cln;
        --cls;
        for (; cls > 6; cls -= 6) cl[cli++] = 8304;
        if (cls > 2) {
          cl[cli++] = ((cls - 3) << 5) | 8208;
          cls = 0;
        }
      }
      while (cls--) cl[cli++] = cln;
      cls = 1;
      cln = c[i]!;
    }
  }
  return cli * 65536 + s;
}

function clen(cf: Uint16Array, cl: Uint8Array, n: number): number {
  let l = 0;
  for (let i = 0; i < n; ++i) l += cf[i]! * cl[i]!;
  return l;
}

/** A stored (uncompressed) block of dat[bs, bs+bl) at bit position pos; returns the new bit position. */
function wfblk(out: Uint8Array, pos: number, dat: Uint8Array, bs: number, bl: number): number {
  const o = shft(pos + 2);
  out[o] = bl & 255;
  out[o + 1] = bl >> 8;
  out[o + 2] = out[o]! ^ 255;
  out[o + 3] = out[o + 1]! ^ 255;
  out.set(dat.subarray(bs, bs + bl), o + 4);
  return (o + 4 + bl) * 8;
}

/** Reusable DEFLATE encoder. `deflate` returns a view of internal memory, valid until the next call. */
export class DeflateEncoder {
  private readonly prev = new u16(32768);
  private head = new u16(0);
  private readonly syms = new i32(25000);
  private readonly lf = new u16(288);
  private readonly df = new u16(32);
  private out = new u8(0);
  // Huffman scratch
  private readonly dlt = new u8(288);
  private readonly ddt = new u8(32);
  private readonly lct = new u8(19);
  private readonly lclt = new u16(288 + 32);
  private readonly lcdt = new u16(32 + 32);
  private readonly lcfreq = new u16(19);
  private readonly lm = new u16(288);
  private readonly dm = new u16(32);
  private readonly llm = new u16(19);
  private readonly hl = new u16(15);
  private readonly hle = new u16(15);

  /** Raw DEFLATE of `dat` at `level` (1-9), as fflate's `deflateSync(dat, { level })` writes it. */
  deflate(dat: Uint8Array, level: number): Uint8Array {
    const lvl = Math.max(1, Math.min(9, level | 0));
    const { revfl, revfd } = reverseTables();
    const s = dat.length;
    const plvl = Math.ceil(Math.max(8, Math.min(13, Math.log(s))) * 1.5);
    const outLen = s + 5 * (1 + Math.ceil(s / 7000));
    if (this.out.length < outLen) this.out = new u8(Math.max(outLen, 20 * 1024));
    const w = this.out;
    w.fill(0, 0, outLen);
    let pos = 0;
    const opt = deo[lvl - 1]!;
    const n = opt >> 13;
    const c = opt & 8191;
    const msk = (1 << plvl) - 1;
    const prev = this.prev;
    prev.fill(0);
    if (this.head.length < msk + 1) this.head = new u16(msk + 1);
    const head = this.head;
    head.fill(0, 0, msk + 1);
    const bs1 = Math.ceil(plvl / 3);
    const bs2 = 2 * bs1;
    const hsh = (i: number): number => (dat[i]! ^ (dat[i + 1]! << bs1) ^ (dat[i + 2]! << bs2)) & msk;
    const syms = this.syms;
    const lf = this.lf;
    const df = this.df;
    lf.fill(0);
    df.fill(0);
    let lcn = 0;
    let eb = 0;
    let i = 0;
    let li = 0;
    let wi = 0;
    let bs = 0;
    for (; i + 2 < s; ++i) {
      const hv = hsh(i);
      let imod = i & 32767;
      let pimod = head[hv]!;
      prev[imod] = pimod;
      head[hv] = imod;
      if (wi <= i) {
        const rem = s - i;
        if ((lcn > 7000 || li > 24576) && rem > 423) {
          pos = this.wblk(dat, w, 0, li, eb, bs, i - bs, pos);
          li = lcn = eb = 0;
          bs = i;
          lf.fill(0, 0, 286);
          df.fill(0, 0, 30);
        }
        let l = 2;
        let d = 0;
        let ch = c;
        let dif = (imod - pimod) & 32767;
        if (rem > 2 && hv === hsh(i - dif)) {
          const maxn = Math.min(n, rem) - 1;
          const maxd = Math.min(32767, i);
          const ml = Math.min(258, rem);
          while (dif <= maxd && --ch && imod !== pimod) {
            if (dat[i + l] === dat[i + l - dif]) {
              let nl = 0;
              for (; nl < ml && dat[i + nl] === dat[i + nl - dif]; ++nl);
              if (nl > l) {
                l = nl;
                d = dif;
                if (nl > maxn) break;
                const mmd = Math.min(dif, nl - 2);
                let md = 0;
                for (let j = 0; j < mmd; ++j) {
                  const ti = (i - dif + j) & 32767;
                  const pti = prev[ti]!;
                  const cd = (ti - pti) & 32767;
                  if (cd > md) {
                    md = cd;
                    pimod = ti;
                  }
                }
              }
            }
            imod = pimod;
            pimod = prev[imod]!;
            dif += (imod - pimod) & 32767;
          }
        }
        if (d) {
          syms[li++] = 268435456 | (revfl[l]! << 18) | revfd[d]!;
          const lin = revfl[l]! & 31;
          const din = revfd[d]! & 31;
          eb += fleb[lin]! + fdeb[din]!;
          lf[257 + lin]!++;
          df[din]!++;
          wi = i + l;
          ++lcn;
        } else {
          syms[li++] = dat[i]!;
          lf[dat[i]!]!++;
        }
      }
    }
    for (i = Math.max(i, wi); i < s; ++i) {
      syms[li++] = dat[i]!;
      lf[dat[i]!]!++;
    }
    pos = this.wblk(dat, w, 1, li, eb, bs, i - bs, pos);
    return w.subarray(0, shft(pos));
  }

  /** Writes one block (stored, fixed or dynamic Huffman, whichever is smallest); returns the bit position. */
  private wblk(dat: Uint8Array, out: Uint8Array, final: number, li: number, eb: number, bs: number, bl: number, p: number): number {
    const { syms, lf, df, dlt, ddt, lct, lclt, lcdt, lcfreq } = this;
    wbits(out, p++, final);
    lf[256]!++;
    const mlb = hTree(lf, 288, 15, dlt);
    const mdb = hTree(df, 32, 15, ddt);
    const lcl = lc(dlt, 288, lclt);
    const nlclt = Math.floor(lcl / 65536);
    const nlc = lcl % 65536;
    const lcd = lc(ddt, 32, lcdt);
    const nlcdt = Math.floor(lcd / 65536);
    const ndc = lcd % 65536;
    lcfreq.fill(0);
    for (let i = 0; i < nlclt; ++i) lcfreq[lclt[i]! & 31]!++;
    for (let i = 0; i < nlcdt; ++i) lcfreq[lcdt[i]! & 31]!++;
    const mlcb = hTree(lcfreq, 19, 7, lct);
    let nlcc = 19;
    for (; nlcc > 4 && !lct[clim[nlcc - 1]!]; --nlcc);
    const flen = (bl + 5) << 3;
    const ftlen = clen(lf, flt, 288) + clen(df, fdt, 32) + eb;
    const dtlen =
      clen(lf, dlt, 288) + clen(df, ddt, 32) + eb + 14 + 3 * nlcc + clen(lcfreq, lct, 19) + 2 * lcfreq[16]! + 3 * lcfreq[17]! + 7 * lcfreq[18]!;
    if (bs >= 0 && flen <= ftlen && flen <= dtlen) return wfblk(out, p, dat, bs, bl);
    let lm: Uint16Array;
    let ll: Uint8Array;
    let dm: Uint16Array;
    let dl: Uint8Array;
    wbits(out, p, 1 + (dtlen < ftlen ? 1 : 0));
    p += 2;
    if (dtlen < ftlen) {
      lm = this.lm;
      ll = dlt;
      dm = this.dm;
      dl = ddt;
      hMap(dlt, 288, mlb, lm, this.hl, this.hle);
      hMap(ddt, 32, mdb, dm, this.hl, this.hle);
      const llm = this.llm;
      hMap(lct, 19, mlcb, llm, this.hl, this.hle);
      wbits(out, p, nlc - 257);
      wbits(out, p + 5, ndc - 1);
      wbits(out, p + 10, nlcc - 4);
      p += 14;
      for (let i = 0; i < nlcc; ++i) wbits(out, p + 3 * i, lct[clim[i]!]!);
      p += 3 * nlcc;
      for (let it = 0; it < 2; ++it) {
        const clct = it === 0 ? lclt : lcdt;
        const cn = it === 0 ? nlclt : nlcdt;
        for (let i = 0; i < cn; ++i) {
          const len = clct[i]! & 31;
          wbits(out, p, llm[len]!);
          p += lct[len]!;
          if (len > 15) {
            wbits(out, p, (clct[i]! >> 5) & 127);
            p += clct[i]! >> 12;
          }
        }
      }
    } else {
      lm = flm;
      ll = flt;
      dm = fdm;
      dl = fdt;
    }
    for (let i = 0; i < li; ++i) {
      const sym = syms[i]!;
      if (sym > 255) {
        const len = (sym >> 18) & 31;
        wbits16(out, p, lm[len + 257]!);
        p += ll[len + 257]!;
        if (len > 7) {
          wbits(out, p, (sym >> 23) & 31);
          p += fleb[len]!;
        }
        const dst = sym & 31;
        wbits16(out, p, dm[dst]!);
        p += dl[dst]!;
        if (dst > 3) {
          wbits16(out, p, (sym >> 5) & 8191);
          p += fdeb[dst]!;
        }
      } else {
        wbits16(out, p, lm[sym]!);
        p += ll[sym]!;
      }
    }
    wbits16(out, p, lm[256]!);
    return p + ll[256]!;
  }
}

// ------------------------------------------------------------------ inflate

/** Base values of length codes 257-285 and distance codes 0-29. */
function bases(eb: Uint8Array, start: number): Uint16Array {
  const b = new u16(31);
  for (let i = 0; i < 31; ++i) b[i] = start += 1 << eb[i - 1]!;
  return b;
}
const fl = bases(fleb, 2);
fl[28] = 258;
const fd = bases(fdeb, 0);

/**
 * Decoding table for code lengths cd[0..n) with `mb` max bits into co[0 .. 1 << mb): entry =
 * (symbol << 4) | bits, 0 where no code (fflate's hMap with reversal).
 */
function hMapRev(cd: Uint8Array, n: number, mb: number, co: Uint16Array, l: Uint16Array, le: Uint16Array): void {
  co.fill(0, 0, 1 << mb);
  l.fill(0, 0, mb);
  for (let i = 0; i < n; ++i) if (cd[i]) l[cd[i]! - 1]!++;
  le[0] = 0;
  for (let i = 1; i < mb; ++i) le[i] = (le[i - 1]! + l[i - 1]!) << 1;
  const rvb = 15 - mb;
  for (let i = 0; i < n; ++i) {
    const c = cd[i]!;
    if (!c) continue;
    const sv = (i << 4) | c;
    const r = mb - c;
    let v = le[c - 1]! << r;
    le[c - 1]!++;
    for (const m = v | ((1 << r) - 1); v <= m; ++v) co[rev15(v) >> rvb] = sv;
  }
}
const flrm = new u16(1 << 9);
const fdrm = new u16(1 << 5);
hMapRev(flt, 288, 9, flrm, new u16(15), new u16(15));
hMapRev(fdt, 32, 5, fdrm, new u16(15), new u16(15));

function bits(d: Uint8Array, p: number, m: number): number {
  const o = (p / 8) | 0;
  return ((d[o]! | (d[o + 1]! << 8)) >> (p & 7)) & m;
}
function bits16(d: Uint8Array, p: number): number {
  const o = (p / 8) | 0;
  return (d[o]! | (d[o + 1]! << 8) | (d[o + 2]! << 16)) >> (p & 7);
}

/** Thrown for invalid DEFLATE data (the caller names file and offset). */
export class InflateError extends Error {}

/**
 * Reusable raw DEFLATE decoder (fflate's inflate, MIT, restructured so its decoding tables are
 * allocated once). Decodes into a caller's buffer and never writes past `outLen`.
 */
export class Inflater {
  private readonly lmt = new u16(1 << 15);
  private readonly dmt = new u16(1 << 15);
  private readonly clm = new u16(1 << 7);
  private readonly ldt = new u8(320);
  private readonly clt = new u8(19);
  private readonly hl = new u16(16);
  private readonly hle = new u16(16);

  /** Inflates `dat` into out[0, outLen); returns the number of bytes produced (throws InflateError if invalid or larger). */
  inflate(dat: Uint8Array, out: Uint8Array, outLen: number): number {
    const sl = dat.length;
    if (outLen > out.length) throw new RangeError('output buffer too small');
    if (!sl) return 0;
    const tbts = sl * 8;
    let pos = 0;
    let bt = 0;
    let final = 0;
    const bad = (what: string): never => {
      throw new InflateError(what);
    };
    while (!final) {
      if (pos + 3 > tbts) bad('unexpected EOF');
      final = bits(dat, pos, 1);
      const type = bits(dat, pos + 1, 3);
      pos += 3;
      let lm: Uint16Array;
      let dm: Uint16Array;
      let lbt: number;
      let dbt: number;
      if (!type) {
        const s = (((pos + 7) / 8) | 0) + 4;
        if (s > sl) bad('unexpected EOF');
        const l = dat[s - 4]! | (dat[s - 3]! << 8);
        const t = s + l;
        if (t > sl) bad('unexpected EOF');
        if (bt + l > outLen) bad('output larger than expected');
        out.set(dat.subarray(s, t), bt);
        bt += l;
        pos = t * 8;
        continue;
      } else if (type === 1) {
        lm = flrm;
        dm = fdrm;
        lbt = 9;
        dbt = 5;
      } else if (type === 2) {
        const hLit = bits(dat, pos, 31) + 257;
        const hcLen = bits(dat, pos + 10, 15) + 4;
        const tl = hLit + bits(dat, pos + 5, 31) + 1;
        pos += 14;
        const ldt = this.ldt;
        const clt = this.clt;
        clt.fill(0);
        for (let i = 0; i < hcLen; ++i) clt[clim[i]!] = bits(dat, pos + i * 3, 7);
        pos += hcLen * 3;
        let clb = 0;
        for (let i = 0; i < 19; ++i) if (clt[i]! > clb) clb = clt[i]!;
        const clbmsk = (1 << clb) - 1;
        const clm = this.clm;
        hMapRev(clt, 19, clb, clm, this.hl, this.hle);
        for (let i = 0; i < tl; ) {
          if (pos > tbts) bad('unexpected EOF');
          const r = clm[bits(dat, pos, clbmsk)]!;
          if (!r) bad('invalid code length code');
          pos += r & 15;
          const s = r >> 4;
          if (s < 16) ldt[i++] = s;
          else {
            let c = 0;
            let n = 0;
            if (s === 16) {
              if (i === 0) bad('invalid code length repeat');
              n = 3 + bits(dat, pos, 3);
              pos += 2;
              c = ldt[i - 1]!;
            } else if (s === 17) {
              n = 3 + bits(dat, pos, 7);
              pos += 3;
            } else {
              n = 11 + bits(dat, pos, 127);
              pos += 7;
            }
            if (i + n > tl) bad('invalid code length repeat');
            while (n--) ldt[i++] = c;
          }
        }
        const lt = ldt.subarray(0, hLit);
        const dt = ldt.subarray(hLit, tl);
        lbt = 0;
        for (let i = 0; i < lt.length; ++i) if (lt[i]! > lbt) lbt = lt[i]!;
        dbt = 0;
        for (let i = 0; i < dt.length; ++i) if (dt[i]! > dbt) dbt = dt[i]!;
        lm = this.lmt;
        dm = this.dmt;
        hMapRev(lt, lt.length, lbt, lm, this.hl, this.hle);
        hMapRev(dt, dt.length, dbt, dm, this.hl, this.hle);
      } else return bad('invalid block type');
      if (pos > tbts) bad('unexpected EOF');
      const lms = (1 << lbt) - 1;
      const dms = (1 << dbt) - 1;
      for (;;) {
        const c = lm[bits16(dat, pos) & lms]!;
        const sym = c >> 4;
        pos += c & 15;
        if (pos > tbts) bad('unexpected EOF');
        if (!c) bad('invalid length/literal');
        if (sym < 256) {
          if (bt >= outLen) bad('output larger than expected');
          out[bt++] = sym;
        } else if (sym === 256) break;
        else {
          let add = sym - 254;
          if (sym > 264) {
            const i = sym - 257;
            const b = fleb[i]!;
            add = bits(dat, pos, (1 << b) - 1) + fl[i]!;
            pos += b;
          }
          const d = dm[bits16(dat, pos) & dms]!;
          const dsym = d >> 4;
          if (!d) bad('invalid distance');
          pos += d & 15;
          let dist = fd[dsym]!;
          if (dsym > 3) {
            const b = fdeb[dsym]!;
            dist += bits16(dat, pos) & ((1 << b) - 1);
            pos += b;
          }
          if (pos > tbts) bad('unexpected EOF');
          if (bt < dist) bad('invalid distance');
          const end = bt + add;
          if (end > outLen) bad('output larger than expected');
          for (; bt < end; ++bt) out[bt] = out[bt - dist]!;
        }
      }
    }
    return bt;
  }
}
