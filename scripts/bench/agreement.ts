/** How closely two runs of the same computation agree, for the check and benchmark scripts. */

/** max |a − b| over max |a|: the worst difference relative to the reference's largest entry. */
export function worstRelative(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return diff / (scale || 1);
}
