// DNA in and out of the page: the serialized CharacterDna message is the same ".dna" file the
// CLI and the engine clients write, so a face made here loads there and back. Pasted DNA is
// that file's bytes in base64.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { CharacterDnaSchema, type CharacterDna } from "./gen/avatarforge/v1/avatarforge_pb";

export function dnaBytes(dna: CharacterDna): Uint8Array {
  return toBinary(CharacterDnaSchema, dna);
}

export function dnaFromBytes(bytes: Uint8Array): CharacterDna {
  const dna = fromBinary(CharacterDnaSchema, bytes);
  if (dna.wPlus.length === 0) throw new Error("this file holds no DNA (no W+ code): is it a .dna file?");
  return dna; // the server checks the checksum and the model when it renders it
}

export function dnaToBase64(dna: CharacterDna): string {
  let s = "";
  for (const b of dnaBytes(dna)) s += String.fromCharCode(b);
  return btoa(s);
}

export function dnaFromBase64(text: string): CharacterDna {
  const raw = atob(text.replace(/\s+/g, ""));
  return dnaFromBytes(Uint8Array.from(raw, (c) => c.charCodeAt(0)));
}

// A file name that says which face: the seed it came from, or "edited".
export function dnaName(dna: CharacterDna): string {
  const base = dna.seed !== undefined ? `seed${dna.seed}` : "face";
  return dna.edits.length ? `${base}-edited` : base;
}

export function saveFile(bytes: Uint8Array, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
