// A face's parts over the gRPC-Web door, as a creator's dropdowns use them: the vocabulary from
// GetModel, GetParts of a seed and of its DNA, a part set with RenderPreview and read back
// exactly, the errors that name the field, and the tiny model, which draws no parts.
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using V1 = AvatarForge.V1;

namespace AvatarForge.Client.Tests
{
    static class PartsTests
    {
        const long Seed = 42;

        public static async Task Run(AvatarForgeClient tiny, string address)
        {
            var none = await tiny.GetModelAsync();
            Check.That(none.IsOk && none.Value.Name == "tiny" && none.Value.Parts.Count == 0, "GetModel(tiny): no parts vocabulary " + none.Status);
            var refused = await tiny.GetPartsAsync(new long[] { 1 });
            Check.That(refused.Status.Code == RpcCode.InvalidArgument && refused.Status.Field == "model" && refused.Status.Message.Contains("parts"),
                       "GetParts on a model without parts: InvalidArgument, field model " + refused.Status);

            using (var af = new AvatarForgeClient(new ClientOptions { Address = address, Model = "avatars64", AuthToken = "test-token" }))
            {
                var model = await af.GetModelAsync();
                var face = await af.GenerateAsync(new long[] { Seed });
                if (!model.IsOk || !face.IsOk) { Check.That(false, "avatars64: GetModel and Generate " + model.Status + " " + face.Status); return; }
                var hair = model.Value.Parts.FirstOrDefault(p => p.Name == "hair_color");
                Check.That(model.Value.Parts.Count >= 10 && hair != null && hair.Values.Contains("RED") &&
                           model.Value.Parts.All(p => p.Values.Count >= 2 && p.ClassifierAccuracy > 0),
                           "GetModel(avatars64): parts with values (hair_color has RED) and classifier accuracies");
                if (hair == null) return;
                var dna = face.Value[0].Dna;
                var seedParts = await Reading(af, model.Value, dna);
                if (seedParts != null) await SetPart(af, model.Value, dna, seedParts, hair);
            }
        }

        // The seed and its DNA read the same exact parts, every part of the vocabulary in order.
        static async Task<FaceParts> Reading(AvatarForgeClient af, ModelInfo model, byte[] dna)
        {
            var read = await af.GetPartsAsync(new long[] { Seed }, new[] { dna });
            if (!read.IsOk || read.Value.Count != 2) { Check.That(false, "GetParts seed + its DNA " + read.Status); return null; }
            FaceParts bySeed = read.Value[0], byDna = read.Value[1];
            Check.That(bySeed.Index == 0 && bySeed.Source == PartsSource.Seed && bySeed.Parts.Count == model.Parts.Count &&
                       bySeed.Parts.Zip(model.Parts, (r, p) => r.Part == p.Name && p.Values.Contains(r.Value) && r.Confidence == 1).All(x => x),
                       "GetParts(seed): every part in GetModel's order, a value of its vocabulary, exact (source Seed, confidence 1)");
            Check.That(byDna.Index == 1 && byDna.Source == PartsSource.Seed && byDna.Parts.SequenceEqual(bySeed.Parts),
                       "GetParts(the seed's DNA): the same exact parts");
            var garbage = await af.GetPartsAsync(null, new[] { new byte[] { 0xff, 0xff, 0xff } });
            Check.That(garbage.Status.Code == RpcCode.InvalidArgument && garbage.Status.Field == "dnas",
                       "GetParts of garbage DNA: InvalidArgument (field dnas) before sending " + garbage.Status);
            var cancelled = await af.GetPartsAsync(new long[] { Seed }, null, null, new CancellationToken(true));
            Check.That(cancelled.Status.Code == RpcCode.Cancelled, "GetParts with a cancelled token: Cancelled " + cancelled.Status);
            return bySeed;
        }

        // A dropdown pick: the preview's DNA records it, GetParts reads it back exactly, and a wrong
        // part or value is refused naming the field.
        static async Task SetPart(AvatarForgeClient af, ModelInfo model, byte[] dna, FaceParts before, PartInfo hair)
        {
            var value = hair.Values.First(v => v != before.Value("hair_color"));
            var spec = new PreviewSpec { Dna = dna, SetParts = { new PartValue("hair_color", value) } };
            var preview = await af.RenderPreviewAsync(spec);
            var edits = preview.IsOk ? V1.CharacterDna.Parser.ParseFrom(preview.Value.Dna).Edits.Select(e => e.Direction + " " + e.Strength).ToList() : new List<string>();
            Check.That(edits.SequenceEqual(new[] { "part/hair_color/" + value + " 1" }),
                       "RenderPreview hair_color=" + value + ": the DNA's edits record part/hair_color/" + value + " " + preview.Status);
            if (!preview.IsOk) return;
            var after = await af.GetPartsAsync(null, new[] { preview.Value.Dna });
            var expected = before.Parts.Select(p => p.Part == "hair_color" ? value : p.Value);
            Check.That(after.IsOk && after.Value.Count == 1 && after.Value[0].Source == PartsSource.Seed &&
                       after.Value[0].Parts.Select(p => p.Value).SequenceEqual(expected),
                       "GetParts(the preview's DNA): hair_color " + value + ", the other parts the seed's, exact " + after.Status);

            spec.SetParts = new List<PartValue> { new PartValue("hair_colour", "RED") };
            var part = await af.RenderPreviewAsync(spec);
            Check.That(part.Status.Code == RpcCode.InvalidArgument && part.Status.Field == "set_parts[0].part" && part.Status.Message.Contains("hair_color"),
                       "unknown part: InvalidArgument, field set_parts[0].part, listing the parts " + part.Status);
            spec.SetParts = new List<PartValue> { new PartValue("hair_color", value), new PartValue("accessory", "PRESCRIPTION_02") };
            var bad = await af.RenderPreviewAsync(spec);
            Check.That(bad.Status.Code == RpcCode.InvalidArgument && bad.Status.Field == "set_parts[1].value" && bad.Status.Message.Contains("PRESCRIPTION_2"),
                       "unknown value: InvalidArgument, field set_parts[1].value, listing the values " + bad.Status);
        }
    }
}
