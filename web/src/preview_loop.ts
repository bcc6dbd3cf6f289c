// Latest wins, in the page: at most one RenderPreview is in flight; states made meanwhile
// replace each other, and when the reply lands only the newest is sent. A slider dragged faster
// than the server renders therefore builds no queue, and the last state is always rendered.
// Each state gets a seq, sent as the request_id and echoed in the reply, so the page shows
// which state the image on screen is.
import { create } from "@bufbuild/protobuf";
import {
  DirectionEditSchema,
  PartValueSchema,
  RenderPreviewRequestSchema,
  type CharacterDna,
  type RenderPreviewResponse,
} from "./gen/avatarforge/v1/avatarforge_pb";
import type { LatencyStats } from "./latency_stats";
import type { AvatarForgeClient } from "./web_rpc";

export interface EditorState {
  dna: CharacterDna; // the face being edited (before this state's edits)
  strengths: Map<string, number>; // direction name -> strength; 0s are not sent
  psi: number | undefined; // truncation toward the average face; undefined = none
  parts: Map<string, string>; // part name -> value set on the face; parts left as they are are not sent
}

export interface PreviewHooks {
  // Puts the reply's image on screen; resolves with the time it was painted, or undefined when
  // a newer image got there first.
  show(reply: RenderPreviewResponse, seq: number): Promise<number | undefined>;
  error(err: unknown, seq: number): void;
  progress(loop: PreviewLoop): void; // seq counters changed
}

export class PreviewLoop {
  newestSeq = 0; // the last state the user made
  sentSeq = 0; // the last state sent to the server
  shownSeq = 0; // the state of the image on screen (from the reply's request_id)
  settledSeq = 0; // the last state answered, image or error
  private pending: { state: EditorState; seq: number } | null = null;
  private busy = false;

  constructor(
    private client: AvatarForgeClient,
    private hooks: PreviewHooks,
    private stats: LatencyStats,
  ) {}

  // A new editor state; `inputAt` is its input event's time (performance.now() time base).
  request(state: EditorState, inputAt: number = performance.now()): number {
    const seq = ++this.newestSeq;
    this.stats.input(seq, inputAt);
    this.pending = { state, seq };
    this.hooks.progress(this);
    if (!this.busy) void this.pump();
    return seq;
  }

  private async pump(): Promise<void> {
    this.busy = true;
    while (this.pending) {
      const { state, seq } = this.pending;
      this.pending = null;
      this.sentSeq = seq;
      this.hooks.progress(this);
      try {
        const sentAt = performance.now();
        const reply = await this.client.renderPreview(toRequest(state, seq));
        const t = reply.timing;
        this.stats.reply(performance.now() - sentAt, t ? Number(t.queueUs + t.computeUs + t.encodeUs) : NaN);
        // Painted while the next state is already on its way: decoding is off the server's path.
        void this.display(reply, seq);
      } catch (err) {
        this.hooks.error(err, seq);
        this.settle(seq);
      }
    }
    this.busy = false;
  }

  private async display(reply: RenderPreviewResponse, seq: number): Promise<void> {
    const shown = Number(reply.requestId);
    try {
      const paintedAt = await this.hooks.show(reply, shown);
      if (paintedAt !== undefined) {
        this.shownSeq = Math.max(this.shownSeq, shown);
        this.stats.painted(shown, paintedAt);
      }
    } catch (err) {
      this.hooks.error(err, seq);
    }
    this.settle(seq);
  }

  private settle(seq: number): void {
    this.settledSeq = Math.max(this.settledSeq, seq);
    this.hooks.progress(this);
  }
}

function toRequest(state: EditorState, seq: number) {
  const edits = [...state.strengths]
    .filter(([, s]) => s !== 0)
    .map(([direction, strength]) => create(DirectionEditSchema, { direction, strength }));
  return create(RenderPreviewRequestSchema, {
    requestId: String(seq),
    dna: state.dna,
    edits,
    truncationPsi: state.psi,
    setParts: [...state.parts].map(([part, value]) => create(PartValueSchema, { part, value })),
  });
}
