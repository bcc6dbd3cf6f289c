// The creator state's part dropdowns (SliderEdits.SetPart), alone: what AvatarEditor.SetPart sends.
// The vocabulary is written here in ModelInfo.Parts' shape, because this suite's server serves
// models without parts; the C# client's own suite sends SetParts to avatars64 and reads them back.
using System.Collections.Generic;
using System.Linq;
using AvatarForge.Client;

namespace AvatarForge.PackageTests
{
    static class SliderEditsTests
    {
        public static void Run()
        {
            var parts = new[]
            {
                new PartInfo { Name = "top", Values = { "BOB", "MOHAWK" } },
                new PartInfo { Name = "hair_color", Values = { "BLACK", "RED" } },
            };
            var directions = new[] { new DirectionInfo { Name = "smile" } };
            var edits = new SliderEdits(new byte[] { 1 }, directions, parts);
            var output = RawPixels.TextureOutput();

            Check.That(!edits.SetPart("hair_colour", "RED") && !edits.SetPart("hair_color", "GREEN") && edits.GetPart("hair_color") == "",
                       "SetPart: a part or value outside the vocabulary is refused and changes nothing");
            Check.That(edits.SetPart("hair_color", "RED") && edits.SetPart("top", "BOB") && edits.Set("smile", 1.5f),
                       "SetPart: parts and values of the vocabulary are taken");
            var first = edits.Snapshot(output);
            Check.That(first.SetParts.Select(p => p.Part + "=" + p.Value).SequenceEqual(new[] { "top=BOB", "hair_color=RED" }) &&
                       first.Edits.Count == 1,
                       "Snapshot: the picked parts in the model's order (not the pick order), beside the slider edits");
            edits.SetPart("top", "");
            edits.SetPart("hair_color", "BLACK");
            var second = edits.Snapshot(output);
            Check.That(second.SetParts.Select(p => p.Part + "=" + p.Value).SequenceEqual(new[] { "hair_color=BLACK" }) &&
                       first.SetParts.Count == 2 && first.SetParts[1].Value == "RED",
                       "\"\" unpicks a part; a snapshot taken earlier keeps its own picks");
            edits.Rebase(new byte[] { 2 });
            Check.That(edits.Snapshot(output).SetParts.Count == 0 && edits.GetPart("hair_color") == "",
                       "Rebase: no part picked on the new face (its DNA records the parts already set)");
            var plain = new SliderEdits(new byte[] { 1 }, directions);
            Check.That(!plain.SetPart("hair_color", "RED") && plain.Snapshot(output).SetParts.Count == 0,
                       "a model without parts: no part can be picked");
        }
    }
}
