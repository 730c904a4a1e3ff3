// Dialling rate and time left, from successive progress snapshots of a batch.

// Calls that ended by being dialled: rows refused at upload are failed from the start and
// would inflate an average.
export function dialledEnded(b, p) {
  const upfront = (b.invalidRows || 0) + (b.duplicateRows || 0);
  return Math.max(0, (p.completed || 0) + (p.failed || 0) - upfront);
}

// Keeps the last snapshots of each batch and answers the current rate in calls per second:
// over the last 10 to 60 seconds when known, else the average since the batch started.
export class RateMeter {
  constructor() {
    this.seen = new Map();
  }
  rate(id, ended, startTime, now) {
    let hist = this.seen.get(id);
    if (!hist) {
      hist = [];
      this.seen.set(id, hist);
    }
    hist.push([now, ended]);
    while (hist.length > 2 && now - hist[1][0] >= 60000) hist.shift();
    if (hist.length > 64) hist.splice(1, hist.length - 64);
    const [t0, e0] = hist[0];
    if (now - t0 >= 10000) return Math.max(0, (ended - e0) / ((now - t0) / 1000));
    if (startTime && now > startTime) return ended / ((now - startTime) / 1000);
    return 0;
  }
  forget(keep) {
    for (const id of this.seen.keys()) if (!keep.has(id)) this.seen.delete(id);
  }
}

// Seconds left at rate (calls/s) for the calls still to end, or null when unknown.
export function eta(p, rate) {
  const left = (p.waiting || 0) + (p.active || 0);
  if (!left) return 0;
  if (!rate || rate <= 0) return null;
  return left / rate;
}
