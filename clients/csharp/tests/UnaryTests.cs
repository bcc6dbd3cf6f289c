// Every unary RPC of the gRPC-Web door, checked for what a game sees: pixels laid out as asked,
// DNA that renders the same face again, edits and mixes that change it.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using V1 = AvatarForge.V1;

namespace AvatarForge.Client.Tests
{
    static class UnaryTests
    {
        public static async Task<IList<Face>> Run(AvatarForgeClient af, string address)
        {
            var models = await af.ListModelsAsync();
            Check.That(models.IsOk && models.Value.Select(m => m.Name).SequenceEqual(new[] { "tiny", "wide", "avatars64" }),
                       "ListModels: tiny, wide and avatars64 " + models.Status);
            var tiny = await af.GetModelAsync();
            Check.That(tiny.IsOk && tiny.Value.Name == "tiny" && tiny.Value.Resolution == 32 && tiny.Value.Directions.Count > 0 &&
                       tiny.Value.MaxUnaryItems > 0 && tiny.Value.SupportedSizes.Contains(128),
                       "GetModel(default): tiny, 32 px, directions, limits, sizes up to 128 " + tiny.Status);

            var g = await af.GenerateAsync(new long[] { 1, 2, 3 });
            var faces = g.IsOk ? g.Value : new List<Face>();
            var p = faces.Count == 3 ? faces[0].Picture : null;
            Check.That(g.IsOk && faces.Count == 3 && faces.Select(f => f.Seed).SequenceEqual(new long?[] { 1, 2, 3 }) &&
                       p.Format == PictureFormat.RawRgba8 && p.Width == 32 && p.Height == 32 && p.RowStride == 128 &&
                       !p.BottomUp && p.Data.Length == 32 * 32 * 4 && faces.All(f => f.Dna.Length > 0 && f.Error.IsOk),
                       "Generate 3 seeds: raw RGBA8 32x32, stride 128, top-down, DNA " + g.Status);
            if (faces.Count != 3) return faces;
            Check.That(Enumerable.Range(0, 32 * 32).All(i => p.Data[i * 4 + 3] == 255), "raw alpha is 255 everywhere");

            var again = await af.GenerateAsync(new long[] { 1 });
            Check.That(again.IsOk && again.Value[0].Picture.Data.SequenceEqual(p.Data) && again.Value[0].Dna.SequenceEqual(faces[0].Dna),
                       "same seed, same pixels and DNA");
            var redo = await af.RenderAsync(new[] { faces[0].Dna });
            Check.That(redo.IsOk && redo.Value[0].Picture.Data.SequenceEqual(p.Data), "DNA renders the seed's face again " + redo.Status);

            await Encode(af, address);
            await Layouts(af, p);
            await Edits(af, faces);
            await Large(af, address);
            await Concurrent(af, faces);
            return faces;
        }

        // "Make an avatar from my picture" on the trained model (tiny ships no encoder): a PNG of a
        // face comes back as DNA that re-renders to the reconstruction, with its scores.
        static async Task Encode(AvatarForgeClient tiny, string address)
        {
            using (var af = new AvatarForgeClient(new ClientOptions { Address = address, Model = "avatars64" }))
            {
                var photo = await af.GenerateAsync(new long[] { 3 }, new OutputOptions { Format = PictureFormat.Png });
                if (!photo.IsOk) { Check.That(false, "Generate a PNG to encode " + photo.Status); return; }
                var spec = new EncodeSpec { Output = new OutputOptions { Format = PictureFormat.RawRgba8, BottomUp = true } };
                spec.Pictures.Add(new Picture { Format = PictureFormat.Png, Data = photo.Value[0].Picture.Data });
                var r = await af.EncodeAsync(spec);
                var e = r.IsOk ? r.Value : null;
                Check.That(e != null && e.Dna.Length > 0 && e.Picture.Format == PictureFormat.RawRgba8 && e.Picture.BottomUp &&
                           e.Picture.Data.Length == e.Picture.RowStride * e.Picture.Height && e.PsnrDb > 25 &&
                           e.AttributeAgreement.HasValue && e.RefineStepsDone == 0,
                           "Encode a PNG: DNA, a bottom-up RGBA reconstruction above 25 dB, attribute agreement " + r.Status);
                if (e == null) return;
                var again = await af.RenderAsync(new[] { e.Dna }, new OutputOptions { BottomUp = true });
                Check.That(again.IsOk && again.Value[0].Picture.Data.SequenceEqual(e.Picture.Data),
                           "Encode: the DNA re-renders to the reconstruction " + again.Status);
                var none = await tiny.EncodeAsync(spec);
                Check.That(none.Status.Code == RpcCode.InvalidArgument && none.Status.Message.Contains("encoder"),
                           "Encode on a model without an encoder: InvalidArgument saying so " + none.Status);
            }
        }

        // BGRA is RGBA with R and B swapped; bottom-up is the rows reversed; PNG is a PNG file.
        static async Task Layouts(AvatarForgeClient af, Picture rgba)
        {
            var bgra = await af.GenerateAsync(new long[] { 1 }, new OutputOptions { Format = PictureFormat.RawBgra8 });
            var b = bgra.IsOk ? bgra.Value[0].Picture.Data : new byte[0];
            Check.That(b.Length == rgba.Data.Length && Enumerable.Range(0, b.Length / 4).All(i =>
                           b[4 * i] == rgba.Data[4 * i + 2] && b[4 * i + 1] == rgba.Data[4 * i + 1] && b[4 * i + 2] == rgba.Data[4 * i]),
                       "RawBgra8 = RawRgba8 with R and B swapped " + bgra.Status);
            var up = await af.GenerateAsync(new long[] { 1 }, new OutputOptions { BottomUp = true });
            var u = up.IsOk ? up.Value[0].Picture : null;
            Check.That(u != null && u.BottomUp && Enumerable.Range(0, 32).All(row =>
                           u.Data.Skip(row * 128).Take(128).SequenceEqual(rgba.Data.Skip((31 - row) * 128).Take(128))),
                       "BottomUp: the same rows, last first (Texture2D.LoadRawTextureData order) " + up.Status);
            var png = await af.GenerateAsync(new long[] { 1 }, new OutputOptions { Format = PictureFormat.Png, Size = 64 });
            var f = png.IsOk ? png.Value[0].Picture : null;
            Check.That(f != null && f.Format == PictureFormat.Png && f.Width == 64 && f.Data.Take(8).SequenceEqual(
                           new byte[] { 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a }), "PNG at 64 px: a PNG file " + png.Status);
        }

        static async Task Edits(AvatarForgeClient af, IList<Face> faces)
        {
            var original = faces[0].Picture.Data;
            var none = await af.RenderPreviewAsync(new PreviewSpec { Dna = faces[0].Dna });
            Check.That(none.IsOk && none.Value.Picture.Data.SequenceEqual(original), "RenderPreview, no edits: the face unchanged " + none.Status);
            var edited = await af.RenderPreviewAsync(new PreviewSpec { Dna = faces[0].Dna, Edits = { new DirectionEdit("sefa/0", 2f) } });
            Check.That(edited.IsOk && !edited.Value.Picture.Data.SequenceEqual(original) && !edited.Value.Dna.SequenceEqual(faces[0].Dna),
                       "RenderPreview sefa/0 = 2: other pixels, other DNA " + edited.Status);
            var mixed = await af.RenderPreviewAsync(new PreviewSpec { Dna = faces[0].Dna, Mix = new MixSpec { Other = faces[1].Dna, Weight = 1 } });
            Check.That(mixed.IsOk && mixed.Value.Picture.Data.SequenceEqual(faces[1].Picture.Data),
                       "RenderPreview mix weight 1: the other face " + mixed.Status);

            var morph = await af.InterpolateAsync(new MorphSpec { Source = faces[0].Dna, Target = faces[1].Dna, Via = { faces[2].Dna }, Frames = 5 });
            var fr = morph.IsOk ? morph.Value : new List<Frame>();
            Check.That(fr.Count == 5 && fr.Select(x => x.Index).SequenceEqual(Enumerable.Range(0, 5)) && fr[0].T == 0 && fr[4].T == 1 &&
                       fr[0].Picture.Data.SequenceEqual(original) && fr[2].Picture.Data.SequenceEqual(faces[2].Picture.Data) &&
                       fr[4].Picture.Data.SequenceEqual(faces[1].Picture.Data),
                       "Interpolate 5 frames via a third face: ends and middle hit exactly " + morph.Status);

            var blend = await af.MixAsync(new[] { new MixParent(faces[0].Dna), new MixParent(faces[1].Dna) });
            Check.That(blend.IsOk && blend.Value.Count >= 1 && blend.Value.All(c => c.Error.IsOk && c.Picture.Data.Length == original.Length) &&
                       !blend.Value[0].Picture.Data.SequenceEqual(original), "Mix blend of two: a new face " + blend.Status);
            int layers = (int)V1.CharacterDna.Parser.ParseFrom(faces[0].Dna).NumWs;
            var style = await af.MixAsync(new[] { new MixParent(faces[0].Dna) { LayerStart = 0, LayerEnd = 2 },
                                                  new MixParent(faces[1].Dna) { LayerStart = 2, LayerEnd = layers } }, styleMix: true);
            Check.That(style.IsOk && style.Value.Count >= 1 && style.Value[0].Error.IsOk && !style.Value[0].Picture.Data.SequenceEqual(original) &&
                       !style.Value[0].Picture.Data.SequenceEqual(faces[1].Picture.Data), "Mix style, layers 0-2 and 2-" + layers + ": a third face " + style.Status);

            var m1 = await af.MutateAsync(faces[0].Dna, 3, 0.5f, 7);
            var m2 = await af.MutateAsync(faces[0].Dna, 3, 0.5f, 7);
            var m3 = await af.MutateAsync(faces[0].Dna, 3, 0.5f, 8);
            Check.That(m1.IsOk && m1.Value.Count == 3 && m2.IsOk && m3.IsOk &&
                       m1.Value.Zip(m2.Value, (a, c) => a.Picture.Data.SequenceEqual(c.Picture.Data)).All(x => x) &&
                       !m1.Value[0].Picture.Data.SequenceEqual(m3.Value[0].Picture.Data) && !m1.Value[0].Picture.Data.SequenceEqual(original),
                       "Mutate 3: new faces, same seed same faces, other seed other faces " + m1.Status);
        }

        // The server's largest image: wide's 4x upscale, 1024 px raw RGBA = 4 MiB of pixels, one
        // reply just over 4 MiB, which a client at gRPC's usual 4 MiB receive limit refuses.
        static async Task Large(AvatarForgeClient af, string address)
        {
            using (var wide = new AvatarForgeClient(new ClientOptions { Address = address, Model = "wide" }))
            {
                var info = await wide.GetModelAsync();
                Check.That(info.IsOk && info.Value.SupportedSizes.Max() == 1024, "wide: largest supported size 1024 " + info.Status);
                var t0 = DateTime.UtcNow;
                var big = await wide.GenerateAsync(new long[] { 5 }, new OutputOptions { Size = 1024 });
                var pic = big.IsOk ? big.Value[0].Picture : null;
                Check.That(pic != null && pic.Width == 1024 && pic.Height == 1024 && pic.RowStride == 4096 && pic.Data.Length == 4194304,
                           string.Format("Generate raw 1024x1024 (4,194,304 bytes of pixels) in {0:F2} s {1}", (DateTime.UtcNow - t0).TotalSeconds, big.Status));
            }
            using (var strict = new AvatarForgeClient(new ClientOptions { Address = address, Model = "wide", MaxReceiveBytes = 4 * 1024 * 1024 }))
            {
                var refused = await strict.GenerateAsync(new long[] { 5 }, new OutputOptions { Size = 1024 });
                Check.That(refused.Status.Code == RpcCode.ResourceExhausted && refused.Status.Message.Contains("MaxReceiveBytes"),
                           "same reply with a 4 MiB receive limit -> ResourceExhausted naming the option " + refused.Status);
            }
        }

        static async Task Concurrent(AvatarForgeClient af, IList<Face> faces)
        {
            var calls = Enumerable.Range(0, 8).Select(i => af.GenerateAsync(new long[] { 1 + i % 3 })).ToArray();
            var results = await Task.WhenAll(calls);
            Check.That(results.Select((r, i) => r.IsOk && r.Value[0].Picture.Data.SequenceEqual(faces[i % 3].Picture.Data)).All(x => x),
                       "8 concurrent Generate calls on one client: all OK, each its own face");
        }
    }
}
