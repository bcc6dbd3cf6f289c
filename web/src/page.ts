// The browser character creator: wires the page (server/web_static/index.html) to the API.
// Sliders come from GetModel (each direction with its accepted strength range); everything
// else is one panel module each.
import type { DirectionInfo, ModelInfo } from "./gen/avatarforge/v1/avatarforge_pb";
import { Editor, byId, faceOf, status } from "./editor";
import { wireCombos } from "./face_combos";
import { wireFiles } from "./face_files";
import { PartPicker } from "./part_picker";
import { connect, describeError } from "./web_rpc";

const MAX_SEED = 2 ** 32 - 1;
const SLIDER_STEPS = 200; // per direction range: fine enough that a drag moves the face smoothly

function randomSeed(): number {
  return Math.floor(Math.random() * (MAX_SEED + 1));
}

function slider(d: DirectionInfo, editor: Editor): HTMLElement {
  const row = document.createElement("label");
  row.className = "slider";
  row.title = `${d.description || d.name} (layers ${d.layerStart}–${d.layerEnd - 1}, ${d.kind})`;
  const input = document.createElement("input");
  Object.assign(input, { type: "range", min: String(d.strengthMin), max: String(d.strengthMax), value: "0" });
  input.step = String((d.strengthMax - d.strengthMin) / SLIDER_STEPS);
  input.dataset.direction = d.name;
  const value = document.createElement("output");
  value.textContent = "0.00";
  const step = Number(input.step);
  input.addEventListener("input", (e) => {
    // The step grid starts at strength_min, so its middle is 0 only up to rounding: snapped to
    // exactly 0 there, a centred slider sends no edit and the face is its DNA's, bit for bit.
    const strength = Math.abs(Number(input.value)) < step / 2 ? 0 : Number(input.value);
    editor.strengths.set(d.name, strength);
    value.textContent = strength.toFixed(2);
    editor.render(e.timeStamp);
  });
  editor.strengths.set(d.name, 0);
  row.append(Object.assign(document.createElement("span"), { textContent: d.name }), input, value);
  return row;
}

// Sliders back to what the editor holds (after a new starting face).
function syncSliders(editor: Editor): void {
  for (const input of document.querySelectorAll<HTMLInputElement>("#sliders input[data-direction]")) {
    input.value = String(editor.strengths.get(input.dataset.direction!) ?? 0);
    (input.nextElementSibling as HTMLOutputElement).textContent = (editor.strengths.get(input.dataset.direction!) ?? 0).toFixed(2);
  }
  byId<HTMLInputElement>("psi").value = String(editor.psi ?? 1);
  byId("psi-value").textContent = (editor.psi ?? 1).toFixed(2);
}

function describeModel(m: ModelInfo): string {
  const b = m.backend;
  return `${m.name} ${m.version} · ${m.resolution} px · ${m.directions.length} directions · ${m.parts.length} parts · ${b?.backend ?? "?"} on ${b?.device ?? "?"}`;
}

async function showSeed(editor: Editor, seed: number): Promise<void> {
  const reply = await editor.client.generate({ characters: [{ source: { case: "seed", value: BigInt(seed) } }] });
  editor.setBase(faceOf(reply.results[0]).dna);
  status(`seed ${seed}`);
}

async function main(): Promise<void> {
  const client = connect(() => byId<HTMLInputElement>("api-key").value);
  let model: ModelInfo;
  try {
    model = await client.getModel({});
  } catch (err) {
    status(`cannot reach the server: ${describeError(err)}`, true);
    return;
  }
  byId("model-info").textContent = describeModel(model);
  const editor: Editor = new Editor(client, model, () => syncSliders(editor), () => void parts.read());
  byId("sliders").append(...model.directions.map((d) => slider(d, editor)));
  const parts = new PartPicker(editor);
  const psi = byId<HTMLInputElement>("psi");
  psi.addEventListener("input", (e) => {
    // exactly 1 is "no truncation": sent as unset, so the face stays bit-identical to its DNA
    editor.psi = Number(psi.value) === 1 ? undefined : Number(psi.value);
    byId("psi-value").textContent = Number(psi.value).toFixed(2);
    editor.render(e.timeStamp);
  });
  byId("reset").addEventListener("click", () => editor.base && editor.setBase(editor.base));

  const seedInput = byId<HTMLInputElement>("seed");
  const go = (seed: number) => showSeed(editor, seed).catch((err) => status(describeError(err), true));
  byId("seed-go").addEventListener("click", () => go(Number(seedInput.value)));
  seedInput.addEventListener("keydown", (e) => e.key === "Enter" && go(Number(seedInput.value)));
  byId("seed-random").addEventListener("click", () => {
    seedInput.value = String(randomSeed());
    void go(Number(seedInput.value));
  });

  wireFiles(editor);
  wireCombos(editor, randomSeed);
  (window as unknown as Record<string, unknown>).avatarforgeCreator = editor; // for the console and the browser test
  await go(Number(seedInput.value));
}

void main();
