// Faces' raw pixels and DNA to files, the C# side of the cross-client check (Python, C++ and C#
// must write identical bytes for the same seeds). The files are named as `avatarforge generate
// --format raw` names them, so `cmp` compares the folders directly:
//   mono AvatarForgeDump.exe [--seeds 0-7,42] [--size N] [--format raw|raw_bgra] [--psi X] [--model M]
//                            --out DIR http://HOST:WEBPORT
//   -> DIR/seed000042.rgba (or .bgra) and DIR/seed000042.dna (a serialized CharacterDna)
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
            var opt = new Dictionary<string, string> { { "--seeds", "0-7" }, { "--size", "0" }, { "--format", "raw" }, { "--model", "" } };
            for (int i = 0; i + 1 < args.Length; i += 2) opt[args[i]] = args[i + 1];
            if (args.Length % 2 == 0 || !opt.ContainsKey("--out") || (opt["--format"] != "raw" && opt["--format"] != "raw_bgra"))
            {
                Console.Error.WriteLine("usage: AvatarForgeDump.exe [--seeds 0-7,42] [--size N] [--format raw|raw_bgra] [--psi X] " +
                                        "[--model M] --out DIR http://HOST:WEBPORT");
                return 2;
            }
            bool bgra = opt["--format"] == "raw_bgra";
            var spec = new BatchSpec
            {
                Seeds = ParseSeeds(opt["--seeds"]),
                Output = new OutputOptions { Format = bgra ? PictureFormat.RawBgra8 : PictureFormat.RawRgba8, Size = int.Parse(opt["--size"]) },
            };
            if (opt.ContainsKey("--psi")) spec.TruncationPsi = float.Parse(opt["--psi"], CultureInfo.InvariantCulture);
            string dir = opt["--out"];
            Directory.CreateDirectory(dir);

            int written = 0, failed = 0;
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
                        return true;
                    }
                    string stem = Path.Combine(dir, string.Format("seed{0:D6}", face.Seed));
                    File.WriteAllBytes(stem + (bgra ? ".bgra" : ".rgba"), face.Picture.Data);
                    File.WriteAllBytes(stem + ".dna", face.Dna);
                    written++;
                    return true;
                }).GetAwaiter().GetResult();
                if (!r.IsOk)
                {
                    Console.Error.WriteLine("AvatarForgeDump: " + r.Status);
                    return 1;
                }
            }
            Console.WriteLine("wrote {0} faces to {1}{2}", written, dir, failed > 0 ? string.Format(" ({0} failed)", failed) : "");
            return failed == 0 ? 0 : 1;
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
