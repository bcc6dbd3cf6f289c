// The parts dropdowns: one per part of GetModel's vocabulary (ModelInfo.parts), showing the
// start face's values as GetParts reads them: exact for a seed's face (and for its DNA when only
// parts were set since), the attribute classifier's reading for any other face. A picked value
// joins the editor's set_parts and goes out with the next RenderPreview, latest wins, as a
// slider move does; the reply's DNA records it, so a downloaded face keeps it. Picking the read
// value again takes the part out: nothing is sent for it, and the face is its DNA's, bit for bit.
// A model whose mapping draws no parts lists none: the page's placeholder dropdowns stay
// disabled, with the reason.
import { PartsSource, type FaceParts, type PartInfo } from "./gen/avatarforge/v1/avatarforge_pb";
import { Editor, byId } from "./editor";
import { describeError } from "./web_rpc";

// "hair_color" -> "hair color", "LONG_HAIR_CURLY" -> "long hair curly"
function label(name: string): string {
  return name.replace(/_/g, " ").toLowerCase();
}

function percent(share: number | undefined): string {
  return share === undefined ? "an unmeasured share" : `${Math.round(share * 100)} %`;
}

export class PartPicker {
  private readonly selects = new Map<string, HTMLSelectElement>();
  private readonly faceValues = new Map<string, string>(); // the start face's values, as last read
  private reads = 0; // GetParts calls made; a reply about an older start face is dropped

  constructor(private readonly editor: Editor) {
    const panel = byId("parts");
    if (editor.model.parts.length === 0) {
      panel.dataset.read = "none";
      byId("parts-reason").textContent = `Parts are off: model ${editor.model.name} draws no named parts ` +
        "(GetModel lists none), so there is nothing to read or set by name.";
      return;
    }
    panel.replaceChildren(...editor.model.parts.map((p) => this.dropdown(p)));
  }

  private dropdown(part: PartInfo): HTMLElement {
    const select = document.createElement("select");
    select.dataset.part = part.name;
    select.disabled = true; // until the start face's value is read
    select.append(...part.values.map((v) => new Option(label(v), v)));
    select.addEventListener("change", (e) => {
      if (select.value === this.faceValues.get(part.name)) this.editor.parts.delete(part.name);
      else this.editor.parts.set(part.name, select.value);
      select.classList.toggle("set", this.editor.parts.has(part.name));
      this.editor.render(e.timeStamp);
    });
    this.selects.set(part.name, select);
    const row = document.createElement("label");
    row.append(label(part.name), select);
    return row;
  }

  // The new start face's parts into the dropdowns (the editor has just cleared its set parts).
  async read(): Promise<void> {
    const dna = this.editor.base;
    if (this.selects.size === 0 || !dna) return;
    const call = ++this.reads;
    const panel = byId("parts");
    const reason = byId("parts-reason");
    panel.dataset.read = "false";
    for (const select of this.selects.values()) {
      select.disabled = true;
      select.classList.remove("set");
    }
    reason.textContent = "Reading this face's parts…";
    let face: FaceParts | undefined;
    try {
      face = (await this.editor.client.getParts({ characters: [{ source: { case: "dna", value: dna } }] })).faces[0];
      if (!face) throw new Error("GetParts sent no face");
    } catch (err) {
      if (call !== this.reads) return;
      panel.dataset.read = "error";
      reason.textContent = `This face's parts could not be read, so they cannot be set: ${describeError(err)}`;
      return;
    }
    if (call !== this.reads) return;
    this.show(face);
    panel.dataset.read = "true";
  }

  private show(face: FaceParts): void {
    const exact = face.source === PartsSource.SEED;
    const accuracy = new Map(this.editor.model.parts.map((p) => [p.name, p.classifierAccuracy]));
    for (const read of face.parts) {
      const select = this.selects.get(read.part);
      if (!select) continue;
      this.faceValues.set(read.part, read.value);
      select.value = read.value;
      select.title = exact
        ? `${label(read.value)}: exact, as the face was drawn`
        : `read as ${label(read.value)} with probability ${read.confidence.toFixed(2)}; ` +
          `the classifier reads ${label(read.part)} right ${percent(accuracy.get(read.part))} of the time`;
      select.disabled = false;
    }
    byId("parts").dataset.source = exact ? "seed" : "classifier";
    byId("parts-reason").textContent = exact
      ? "Exact: the parts this face was drawn from. Pick a value to set it."
      : "As the classifier reads them off this face (each dropdown's tooltip says how sure it is). " +
        "Pick a value to set it.";
  }
}
