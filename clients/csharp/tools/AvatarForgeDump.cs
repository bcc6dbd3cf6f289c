// Faces' pixels and DNA to files, the C# side of the cross-client check (Python, C++ and C# must
// write identical bytes for the same seeds). The files are named as `avatarforge generate
// --format raw` names them, so `cmp` compares the folders directly:
//   mono AvatarForgeDump.exe [--seeds 0-7,42] [--size N] [--format raw|raw_bgra|png] [--psi X] [--model M]
//                            [--set PART=VALUE,...] --out DIR http://HOST:WEBPORT
//   -> DIR/seed000042.rgba (.bgra, .png) and DIR/seed000042.dna (a serialized CharacterDna)
// --set writes each seed's face with those parts set (RenderPreview's SetParts) instead: what
// `avatarforge edit --seed 42 --set PART=VALUE` commits.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace AvatarForge.Client.Tools
{
    static class AvatarForgeDump
    {
        static int Main(string[] args)
        {
            var formats = new Dictionary<string, PictureFormat> { { "raw", PictureFormat.RawRgba8 }, { "raw_bgra", PictureFormat.RawBgra8 }, { "png", PictureFormat.Png } };
            var extensions = new Dictionary<PictureFormat, string> { { PictureFormat.RawRgba8, ".rgba" }, { PictureFormat.RawBgra8, ".bgra" }, { PictureFormat.Png, ".png" } };
            var opt = new Dictionary<string, string> { { "--seeds", "0-7" }, { "--size", "0" }, { "--format", "raw" }, { "--model", "" } };
            for (int i = 0; i + 1 < args.Length; i += 2) opt[args[i]] = args[i + 1];
            var setParts = opt.ContainsKey("--set") ? ParseParts(opt["--set"]) : new List<PartValue>();
            if (args.Length % 2 == 0 || !opt.ContainsKey("--out") || !formats.ContainsKey(opt["--format"]) || (opt.ContainsKey("--set") && setParts.Count == 0))
            {
                Console.Error.WriteLine("usage: AvatarForgeDump.exe [--seeds 0-7,42] [--size N] [--format raw|raw_bgra|png] [--psi X] " +
                                        "[--model M] [--set PART=VALUE,...] --out DIR http://HOST:WEBPORT");
                return 2;
            }
            var spec = new BatchSpec
            {
                Seeds = ParseSeeds(opt["--seeds"]),
                Output = new OutputOptions { Format = formats[opt["--format"]], Size = int.Parse(opt["--size"]) },
            };
            string extension = extensions[spec.Output.Format];
            if (opt.ContainsKey("--psi")) spec.TruncationPsi = float.Parse(opt["--psi"], CultureInfo.InvariantCulture);
            string dir = opt["--out"];
            Directory.CreateDirectory(dir);

            int written = 0, failed = 0;
            Action<long?, Picture, byte[]> write = (seed, picture, dna) =>
            {
                string stem = Path.Combine(dir, string.Format("seed{0:D6}", seed));
                File.WriteAllBytes(stem + extension, picture.Data);
                File.WriteAllBytes(stem + ".dna", dna);
                written++;
            };
            var faces = new List<Face>();  // with --set: the seeds' faces, edited once the stream has ended
            using (var af = new AvatarForgeClient(new ClientOptions { Address = args[args.Length - 1], Model = opt["--model"] }))
            {
                var r = af.GenerateBatchAsync(spec, e =>
                {
                    if (e.Kind != BatchEventKind.Item) return true;
                    var face = e.Item;
                    if (!face.Error.IsOk)
                    {
                        Console.Error.WriteLine("seed {0}: {1}", face.Seed, face.Error.Message);
                        failed++;
                    }
                    else if (setParts.Count > 0) faces.Add(face);
                    else write(face.Seed, face.Picture, face.Dna);
                    return true;
                }).GetAwaiter().GetResult();
                if (!r.IsOk)
                {
                    Console.Error.WriteLine("AvatarForgeDump: " + r.Status);
                    return 1;
                }
                foreach (var face in faces)
                {
                    var edited = af.RenderPreviewAsync(new PreviewSpec { Dna = face.Dna, SetParts = setParts, Output = spec.Output }).GetAwaiter().GetResult();
                    if (edited.IsOk) write(face.Seed, edited.Value.Picture, edited.Value.Dna);
                    else
                    {
                        Console.Error.WriteLine("seed {0}: {1}", face.Seed, edited.Status);
                        failed++;
                    }
                }
            }
            Console.WriteLine("wrote {0} faces to {1}{2}", written, dir, failed > 0 ? string.Format(" ({0} failed)", failed) : "");
            return failed == 0 ? 0 : 1;
        }

        /// <summary>"hair_color=RED,top=BOB" -> (hair_color, RED), (top, BOB), in order; empty on a malformed entry.</summary>
        static IList<PartValue> ParseParts(string text)
        {
            var parts = new List<PartValue>();
            foreach (var entry in text.Split(','))
            {
                int eq = entry.IndexOf('=');
                if (eq <= 0 || eq == entry.Length - 1) return new List<PartValue>();
                parts.Add(new PartValue(entry.Substring(0, eq), entry.Substring(eq + 1)));
            }
            return parts;
        }

        /// <summary>"0-9,20" -> 0..9, 20 (order kept, duplicates dropped), as the Python CLI reads it.</summary>
        static IList<long> ParseSeeds(string text)
        {
            var seeds = new List<long>();
            foreach (var part in text.Split(new[] { ',' }, StringSplitOptions.RemoveEmptyEntries))
            {
                var ends = part.Trim().Split('-');
                long lo = long.Parse(ends[0]), hi = ends.Length > 1 ? long.Parse(ends[1]) : lo;
                for (long s = lo; s <= hi; s++) seeds.Add(s);
            }
            return seeds.Distinct().ToList();
        }
    }
}
