// Felt latency of the slider: for every input event, the time until an image showing that
// state or a newer one was painted (latest wins skips states, and a skipped state is felt as
// the wait for the next image). Next to it, what each RenderPreview cost: the server's own
// timing (queue + compute + encode) and the browser's round trip.

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length) - 1; // nearest rank
  return sorted[Math.min(Math.max(rank, 0), sorted.length - 1)];
}

export class LatencyStats {
  inputToPaintMs: number[] = [];
  roundTripMs: number[] = [];
  serverMs: number[] = [];
  private inputs = new Map<number, number>(); // seq -> input event time (performance.now() base)

  input(seq: number, at: number): void {
    this.inputs.set(seq, at);
  }

  reply(roundTripMs: number, serverUs: number): void {
    this.roundTripMs.push(roundTripMs);
    this.serverMs.push(serverUs / 1000);
  }

  // An image of `seq` was painted at `at`: every input up to seq is now on screen.
  painted(seq: number, at: number): void {
    for (const [s, t] of this.inputs) {
      if (s <= seq) {
        this.inputToPaintMs.push(at - t);
        this.inputs.delete(s);
      }
    }
  }

  reset(): void {
    this.inputToPaintMs = [];
    this.roundTripMs = [];
    this.serverMs = [];
    this.inputs.clear();
  }

  summary() {
    const f = (v: number[]) => ({ n: v.length, p50: percentile(v, 50), p95: percentile(v, 95) });
    return { inputToPaint: f(this.inputToPaintMs), roundTrip: f(this.roundTripMs), server: f(this.serverMs) };
  }
}
