// Faces in and out of the page: PNG and DNA downloads, DNA loaded from a file or pasted as
// base64, and a picture uploaded to Encode (disabled, with the server's reason, on a server
// that answers Encode with UNIMPLEMENTED).
import { ImageFormat } from "./gen/avatarforge/v1/avatarforge_pb";
import { dnaBytes, dnaFromBase64, dnaFromBytes, dnaName, dnaToBase64, saveFile } from "./dna_files";
import { Editor, byId, faceOf, status } from "./editor";
import { describeError, isUnimplemented } from "./web_rpc";

const UPLOAD_FORMATS: Record<string, ImageFormat> = {
  "image/png": ImageFormat.PNG,
  "image/jpeg": ImageFormat.JPEG,
  "image/webp": ImageFormat.WEBP,
};

// Runs a button's action with the button disabled meanwhile, errors to the status bar.
export function action(id: string, run: () => Promise<void>): void {
  const button = byId<HTMLButtonElement>(id);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await run();
    } catch (err) {
      status(describeError(err), true);
    } finally {
      button.disabled = false;
    }
  });
}

async function downloadPng(editor: Editor): Promise<void> {
  const size = Number(byId<HTMLSelectElement>("png-size").value);
  const dna = editor.current();
  let png = editor.shownPng;
  if (!png || size !== editor.model.resolution) {
    const reply = await editor.client.generate({ characters: [{ source: { case: "dna", value: dna } }], output: { size } });
    png = faceOf(reply.results[0]).png;
  }
  saveFile(png, `${dnaName(dna)}-${size}px.png`, "image/png");
}

// Encode with no images: a server without Encode answers UNIMPLEMENTED, one with it names the
// missing images (INVALID_ARGUMENT), so the upload is offered exactly where it can work.
async function probeEncode(editor: Editor): Promise<void> {
  const upload = byId<HTMLInputElement>("upload");
  const reason = byId("upload-reason");
  try {
    await editor.client.encode({});
  } catch (err) {
    if (isUnimplemented(err)) {
      upload.disabled = true;
      reason.textContent = `Upload is off: ${describeError(err)}`;
      return;
    }
  }
  upload.disabled = false;
  reason.textContent = "Upload a PNG, JPEG or WebP picture of an avatar to make it the face you edit.";
}

async function encodeUpload(editor: Editor, file: File): Promise<void> {
  const format = UPLOAD_FORMATS[file.type];
  if (format === undefined) throw new Error(`${file.name}: upload a PNG, JPEG or WebP picture`);
  const data = new Uint8Array(await file.arrayBuffer());
  const reply = await editor.client.encode({ images: [{ data, format }] });
  if (!reply.dna) throw new Error("Encode sent no DNA");
  editor.setBase(reply.dna);
  status(`encoded ${file.name}`);
}

export function wireFiles(editor: Editor): void {
  const sizes = byId<HTMLSelectElement>("png-size");
  for (const s of editor.model.supportedSizes.filter((s) => s >= editor.model.resolution)) {
    sizes.append(new Option(`${s} px`, String(s), false, s === Math.min(256, Math.max(...editor.model.supportedSizes))));
  }
  action("download-png", () => downloadPng(editor));
  action("download-dna", async () => {
    const dna = editor.current();
    saveFile(dnaBytes(dna), `${dnaName(dna)}.dna`, "application/octet-stream");
  });
  const dnaText = byId<HTMLTextAreaElement>("dna-text");
  action("dna-copy", async () => {
    dnaText.value = dnaToBase64(editor.current());
    dnaText.select();
    await navigator.clipboard?.writeText(dnaText.value).catch(() => undefined); // the text box has it either way
  });
  action("dna-load", async () => {
    editor.setBase(dnaFromBase64(dnaText.value));
    status("loaded the pasted DNA");
  });
  const dnaFile = byId<HTMLInputElement>("dna-file");
  dnaFile.addEventListener("change", async () => {
    const file = dnaFile.files?.[0];
    if (!file) return;
    try {
      editor.setBase(dnaFromBytes(new Uint8Array(await file.arrayBuffer())));
      status(`loaded ${file.name}`);
    } catch (err) {
      status(`${file.name}: ${describeError(err)}`, true);
    }
    dnaFile.value = "";
  });
  const upload = byId<HTMLInputElement>("upload");
  upload.addEventListener("change", () => {
    const file = upload.files?.[0];
    if (file) encodeUpload(editor, file).catch((err) => status(describeError(err), true));
  });
  void probeEncode(editor);
}
