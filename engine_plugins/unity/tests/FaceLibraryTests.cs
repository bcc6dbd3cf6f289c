// The face cache as AvatarFaceGenerator uses it, with Picture standing in for Texture2D: only
// missing faces are requested, a cached face costs no call whether asked by seed or by DNA, the
// key follows the output spec, and the LRU bound evicts (the hook that destroys textures).
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using AvatarForge.Client;

namespace AvatarForge.PackageTests
{
    static class FaceLibraryTests
    {
        public static async Task Run(string address)
        {
            CountingTransport counter;
            using (var af = UnityCoreTestRunner.Client(address, out counter))
            {
                var output = RawPixels.TextureOutput();
                var direct = await af.GenerateAsync(new long[] { 11, 12 }, output);
                var rendered = direct.IsOk ? await af.RenderAsync(new[] { direct.Value[0].Dna }, output) : direct;
                Check.That(direct.IsOk && rendered.IsOk && new FaceKey(direct.Value[0].Dna, output).Equals(new FaceKey(rendered.Value[0].Dna, output)),
                           "FaceKey: a seed's DNA and the DNA its re-render returns name the same face " + rendered.Status);
                if (!direct.IsOk) return;
                var dna = direct.Value[0].Dna;
                Check.That(!new FaceKey(dna, output).Equals(new FaceKey(dna, RawPixels.TextureOutput(64))) &&
                           !new FaceKey(dna, output).Equals(new FaceKey(direct.Value[1].Dna, output)) &&
                           new FaceKey(dna, new OutputOptions { Quality = 50 }).Equals(new FaceKey(dna, new OutputOptions { Quality = 90 })),
                           "FaceKey: size and DNA matter; quality only for JPEG/WebP");

                var evicted = new List<Picture>();
                var library = new FaceLibrary<Picture>(af, "", p => p, 4, evicted.Add, chunk: 2);
                counter.Reset();
                var first = await library.FromSeedsAsync(new long[] { 11, 12, 13 }, output);
                Check.That(first.All(f => f.IsOk && !f.FromCache) && counter.Calls == 2 &&
                           first[0].Value.Data.SequenceEqual(direct.Value[0].Picture.Data) && first[1].Dna.SequenceEqual(direct.Value[1].Dna),
                           "3 seeds, 2 per call: 2 calls, the same pixels and DNA as Generate (" + counter.Calls + " calls)");

                counter.Reset();
                var again = await library.FromSeedsAsync(new long[] { 13, 11 }, output);
                var byDna = await library.FromDnaAsync(new[] { dna }, output);
                Check.That(counter.Calls == 0 && again.All(f => f.FromCache) && ReferenceEquals(again[1].Value, first[0].Value) &&
                           byDna[0].FromCache && ReferenceEquals(byDna[0].Value, first[0].Value),
                           "asked again by seed and by DNA: 0 calls, the cached objects (" + counter.Calls + " calls)");

                var small = await library.FromSeedsAsync(new long[] { 11 }, RawPixels.TextureOutput(16));
                var psi = await library.FromSeedsAsync(new long[] { 11 }, output, 0.5f);
                Check.That(counter.Calls == 2 && !small[0].FromCache && small[0].Value.Width == 16 && !psi[0].FromCache &&
                           !psi[0].Dna.SequenceEqual(dna) && evicted.Count == 1 && ReferenceEquals(evicted[0], first[1].Value) && library.Count == 4,
                           "another size or psi: new calls; the 5th face evicts the least recently used (seed 12)");

                counter.Reset();
                var bad = await library.FromSeedsAsync(new long[] { 1L << 32 }, output);
                var badAgain = await library.FromSeedsAsync(new long[] { 1L << 32 }, output);
                Check.That(!bad[0].IsOk && bad[0].Value == null && counter.Calls == 2 && !badAgain[0].IsOk,
                           "seed 2^32: a status in the entry (" + bad[0].Status + "), not cached, not thrown");

                library.Clear();
                Check.That(library.Count == 0 && evicted.Count == 5, "Clear evicts every face (" + evicted.Count + ")");
            }
        }
    }
}
