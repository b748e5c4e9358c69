// Heatmap colours: diverging blue–white–red for signed values (h, c, tanh candidates) and a sequential
// ramp for gates that live in [0, 1]. Returned as packed RGBA for ImageData.

export type Scale = { readonly kind: 'diverging'; readonly max: number } | { readonly kind: 'sequential' };

const lerp = (a: number, b: number, t: number): number => Math.round(a + (b - a) * t);

/** RGBA bytes for a value under a scale (NaN: transparent). */
export function colour(v: number, scale: Scale, out: Uint8ClampedArray, at: number): void {
  if (!Number.isFinite(v)) {
    out[at] = out[at + 1] = out[at + 2] = 128;
    out[at + 3] = 40;
    return;
  }
  if (scale.kind === 'sequential') {
    // dark blue (0) -> teal -> yellow (1)
    const t = Math.max(0, Math.min(1, v));
    if (t < 0.5) {
      const u = t / 0.5;
      out[at] = lerp(20, 33, u); out[at + 1] = lerp(29, 145, u); out[at + 2] = lerp(75, 140, u);
    } else {
      const u = (t - 0.5) / 0.5;
      out[at] = lerp(33, 253, u); out[at + 1] = lerp(145, 231, u); out[at + 2] = lerp(140, 37, u);
    }
  } else {
    const t = Math.max(-1, Math.min(1, v / (scale.max || 1)));
    if (t < 0) {
      const u = -t; // white -> blue
      out[at] = lerp(247, 33, u); out[at + 1] = lerp(247, 102, u); out[at + 2] = lerp(247, 172, u);
    } else {
      out[at] = lerp(247, 178, t); out[at + 1] = lerp(247, 24, t); out[at + 2] = lerp(247, 43, t);
    }
  }
  out[at + 3] = 255;
}

export function cssColour(v: number, scale: Scale): string {
  const px = new Uint8ClampedArray(4);
  colour(v, scale, px, 0);
  return `rgba(${px[0]}, ${px[1]}, ${px[2]}, ${(px[3] / 255).toFixed(2)})`;
}

/** The scale for a tensor kind: sigmoid gates are [0, 1]; everything else is signed. */
export function scaleFor(tensor: string, maxAbs: number): Scale {
  return ['gate_i', 'gate_f', 'gate_o', 'gate_r', 'gate_z'].includes(tensor)
    ? { kind: 'sequential' }
    : { kind: 'diverging', max: tensor === 'c' ? Math.max(maxAbs, 1e-6) : 1 };
}
