// The face being made: the DNA it starts from, the slider and part state on top of it, and what
// is on screen now. Every change of the main face goes through the preview loop, so the image shown
// is always a RenderPreview reply and its seq.
import { ImageFormat, type CharacterDna, type FaceResult, type ModelInfo, type RenderPreviewResponse } from "./gen/avatarforge/v1/avatarforge_pb";
import { dnaBytes } from "./dna_files";
import { LatencyStats } from "./latency_stats";
import { PreviewLoop } from "./preview_loop";
import { describeError, type AvatarForgeClient } from "./web_rpc";

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

export function status(text: string, isError = false): void {
  const bar = byId("status");
  bar.textContent = text;
  bar.classList.toggle("error", isError);
}

export function pngUrl(data: Uint8Array): string {
  return URL.createObjectURL(new Blob([data], { type: "image/png" }));
}

// A face of a multi-face reply (Generate, Mix, Mutate), or the item's own error.
export function faceOf(result: FaceResult | undefined): { dna: CharacterDna; png: Uint8Array } {
  if (!result) throw new Error("the server sent no face");
  if (result.error) throw new Error(`item ${result.index}: ${result.error.message}`);
  if (!result.dna || !result.image || result.image.format !== ImageFormat.PNG) throw new Error("the server sent no PNG face");
  return { dna: result.dna, png: result.image.data };
}

export class Editor {
  readonly stats = new LatencyStats();
  readonly loop: PreviewLoop;
  base: CharacterDna | undefined; // what the sliders and parts edit
  shownDna: CharacterDna | undefined; // the face on screen, edits included
  shownPng: Uint8Array | undefined;
  strengths = new Map<string, number>();
  psi: number | undefined;
  parts = new Map<string, string>(); // only the parts set to a value other than the base's
  private shownUrl = "";
  private newestShown = 0; // the seq whose image is being decoded or on screen
  private baseSeq = 0; // the first render of the current base; onBaseShown waits for its reply
  private baseAnswered = true;

  // onChange: a new base was set (sliders go back to neutral). onBaseShown: its first render has
  // come back, shown or failed; work about the new face that is not its image (the parts
  // reading) waits for this, so it never shares a micro-batch with that image (README, Determinism).
  constructor(readonly client: AvatarForgeClient, readonly model: ModelInfo, private onChange: () => void,
              private onBaseShown: () => void = () => {}) {
    this.loop = new PreviewLoop(client, {
      show: (reply, seq) => this.show(reply, seq),
      error: (err, seq) => {
        status(`seq ${seq}: ${describeError(err)}`, true);
        this.baseAnswer(seq);
      },
      progress: (l) => {
        byId("newest-seq").textContent = String(l.newestSeq);
        byId("sent-seq").textContent = String(l.sentSeq);
        byId("shown-seq").textContent = String(l.shownSeq);
        byId("face-panel").dataset.settled = String(l.settledSeq === l.newestSeq);
      },
    }, this.stats);
  }

  // The face the other tools start from: what is on screen, slider edits included.
  current(): CharacterDna {
    const dna = this.shownDna ?? this.base;
    if (!dna) throw new Error("no face yet: pick a seed first");
    return dna;
  }

  currentDnaBytes(): Uint8Array {
    return dnaBytes(this.current());
  }

  // A new starting face (seed, mix, child, loaded DNA, upload): sliders back to neutral, parts
  // as the new face has them.
  setBase(dna: CharacterDna): void {
    this.base = dna;
    for (const name of this.strengths.keys()) this.strengths.set(name, 0);
    this.psi = undefined;
    this.parts.clear();
    this.onChange();
    this.baseAnswered = false;
    this.baseSeq = this.render() ?? 0;
  }

  // -> the seq of the request (undefined before any face)
  render(inputAt?: number): number | undefined {
    if (!this.base) return undefined;
    return this.loop.request({ dna: this.base, strengths: new Map(this.strengths), psi: this.psi, parts: new Map(this.parts) }, inputAt);
  }

  // A later seq stands in for the base's first one, which latest-wins may never send.
  private baseAnswer(seq: number): void {
    if (this.baseAnswered || seq < this.baseSeq) return;
    this.baseAnswered = true;
    this.onBaseShown();
  }

  private async show(reply: RenderPreviewResponse, seq: number): Promise<number | undefined> {
    if (!reply.image || !reply.dna) throw new Error("RenderPreview sent no image");
    this.newestShown = seq;
    const url = pngUrl(reply.image.data);
    const decoded = new Image();
    decoded.src = url;
    await decoded.decode(); // off screen, so the swap below paints in the next frame
    if (seq !== this.newestShown) {
      URL.revokeObjectURL(url);
      return undefined;
    }
    byId<HTMLImageElement>("face").src = url;
    if (this.shownUrl) URL.revokeObjectURL(this.shownUrl);
    this.shownUrl = url;
    this.shownDna = reply.dna;
    this.shownPng = reply.image.data;
    const paintedAt = await new Promise<number>((done) => requestAnimationFrame(() => done(performance.now())));
    this.showLatency();
    this.baseAnswer(seq);
    return paintedAt;
  }

  private showLatency(): void {
    const s = this.stats.summary();
    const ms = (v: number) => (Number.isNaN(v) ? "–" : v.toFixed(0));
    byId("latency").textContent =
      `slider → painted p50 ${ms(s.inputToPaint.p50)} / p95 ${ms(s.inputToPaint.p95)} ms over ${s.inputToPaint.n} inputs; ` +
      `RenderPreview on the server p95 ${ms(s.server.p95)} ms, round trip p95 ${ms(s.roundTrip.p95)} ms`;
  }
}
