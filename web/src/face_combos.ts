// Faces made from other faces: style-mixing a second face's layers in (Mix), breeding
// children to pick from (Mutate), and morphing into the second face (Interpolate, streamed).
import { InterpolationSpace, MixMode, type CharacterDna } from "./gen/avatarforge/v1/avatarforge_pb";
import { Editor, byId, faceOf, pngUrl, status } from "./editor";
import { action } from "./face_files";

const CHILDREN = 8;
const MORPH_FRAMES = 16;
const MORPH_FRAME_MS = 70;
let morphUrls: string[] = []; // the last morph's frames, released when the next one starts

export function wireCombos(editor: Editor, randomSeed: () => number): void {
  const numWs = editor.model.numWs;
  const otherSeed = byId<HTMLInputElement>("other-seed");
  const [layerStart, layerEnd] = [byId<HTMLInputElement>("layer-start"), byId<HTMLInputElement>("layer-end")];
  for (const input of [layerStart, layerEnd]) input.max = String(numWs);
  // The coarse half by default: the other face's head shape and pose, this face's colours.
  layerStart.value = "0";
  layerEnd.value = String(Math.floor(numWs / 2));
  byId("num-ws").textContent = String(numWs);
  let other: CharacterDna | undefined;

  async function loadOther(): Promise<CharacterDna> {
    const seed = BigInt(otherSeed.value);
    if (!other || other.seed !== seed) {
      const face = faceOf((await editor.client.generate({ characters: [{ source: { case: "seed", value: seed } }] })).results[0]);
      byId<HTMLImageElement>("other-face").src = pngUrl(face.png);
      other = face.dna;
    }
    return other;
  }

  action("other-show", async () => void (await loadOther()));
  void loadOther().catch(() => undefined); // its thumbnail; a failure shows when it is used
  action("other-random", async () => {
    otherSeed.value = String(randomSeed());
    await loadOther();
  });

  action("mix", async () => {
    const [start, end] = [Number(layerStart.value), Number(layerEnd.value)];
    const reply = await editor.client.mix({
      mode: MixMode.STYLE, // parents[0] gives every layer parents[1] does not
      parents: [{ dna: editor.current() }, { dna: await loadOther(), layerStart: start, layerEnd: end }],
    });
    editor.setBase(faceOf(reply.results[0]).dna);
    status(`mixed in layers ${start}–${end - 1} of seed ${otherSeed.value}`);
  });

  action("breed", async () => {
    const strength = Number(byId<HTMLInputElement>("breed-strength").value);
    const reply = await editor.client.mutate({
      dna: editor.current(), count: CHILDREN, strength, seed: BigInt(randomSeed()),
    });
    const grid = byId("children");
    grid.querySelectorAll("img").forEach((img) => URL.revokeObjectURL(img.src));
    grid.replaceChildren(...reply.results.map((r, i) => {
      const face = faceOf(r);
      const pick = document.createElement("button");
      pick.className = "child";
      pick.title = `child ${i + 1}: make it the current face`;
      pick.append(Object.assign(new Image(), { src: pngUrl(face.png), alt: `child ${i + 1}` }));
      pick.addEventListener("click", () => editor.setBase(face.dna));
      return pick;
    }));
    status(`${reply.results.length} children at strength ${strength}: click one to continue from it`);
  });

  action("morph", async () => {
    const view = byId<HTMLImageElement>("morph-view");
    morphUrls.forEach((u) => URL.revokeObjectURL(u));
    const urls: string[] = (morphUrls = []);
    const stream = editor.client.interpolate({
      source: editor.current(), target: await loadOther(), frames: MORPH_FRAMES,
      space: InterpolationSpace.W_PLUS_SLERP,
    });
    for await (const frame of stream) { // shown as they arrive, then played there and back
      if (!frame.image) continue;
      urls.push(pngUrl(frame.image.data));
      view.src = urls[urls.length - 1];
    }
    for (const i of [...urls.keys(), ...[...urls.keys()].reverse()]) {
      view.src = urls[i];
      view.dataset.frame = String(i);
      await new Promise((done) => setTimeout(done, MORPH_FRAME_MS));
    }
    status(`morphed in ${urls.length} frames`);
  });
}
