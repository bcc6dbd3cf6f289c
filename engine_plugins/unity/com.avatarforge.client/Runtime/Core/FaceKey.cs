// Cache keys for faces. A face is its DNA: the same DNA bytes and the same OutputOptions give the
// same pixels on every call, so (SHA-256 of the DNA, output spec) names an image exactly. A seed is
// only a way to get DNA and depends on the model and truncation psi, so it gets its own key,
// which maps to DNA, never to pixels.
using System;
using System.Security.Cryptography;

namespace AvatarForge.Client
{
    public struct FaceKey : IEquatable<FaceKey>
    {
        readonly string dnaHash;   // hex SHA-256 of the serialized CharacterDna
        readonly PictureFormat format;
        readonly int size, quality;
        readonly bool bottomUp;

        public FaceKey(byte[] dna, OutputOptions output)
        {
            if (dna == null || dna.Length == 0) throw new ArgumentException("DNA bytes are required", "dna");
            output = output ?? new OutputOptions();
            dnaHash = Sha256Hex(dna);
            format = output.Format;
            size = output.Size;
            // Quality changes only JPEG/WebP bytes; ignoring it elsewhere lets raw and PNG entries be shared.
            quality = output.Format == PictureFormat.Jpeg || output.Format == PictureFormat.Webp ? output.Quality : 0;
            bottomUp = (output.Format == PictureFormat.RawRgba8 || output.Format == PictureFormat.RawBgra8) && output.BottomUp;
        }

        public string DnaHash { get { return dnaHash; } }

        public bool Equals(FaceKey other)
        {
            return dnaHash == other.dnaHash && format == other.format && size == other.size &&
                   quality == other.quality && bottomUp == other.bottomUp;
        }

        public override bool Equals(object obj) { return obj is FaceKey && Equals((FaceKey)obj); }

        public override int GetHashCode()
        {
            unchecked
            {
                int h = dnaHash == null ? 0 : dnaHash.GetHashCode();
                return (((h * 31 + (int)format) * 31 + size) * 31 + quality) * 2 + (bottomUp ? 1 : 0);
            }
        }

        public override string ToString()
        {
            return string.Format("{0}/{1}/{2}/{3}{4}", dnaHash == null ? "-" : dnaHash.Substring(0, 12), format, size, quality, bottomUp ? "/up" : "");
        }

        public static string Sha256Hex(byte[] bytes)
        {
            using (var sha = SHA256.Create())
                return BitConverter.ToString(sha.ComputeHash(bytes)).Replace("-", "").ToLowerInvariant();
        }
    }

    /// <summary>Which DNA a seed gives: the same only for the same model and truncation psi.</summary>
    public struct SeedKey : IEquatable<SeedKey>
    {
        public readonly string Model;
        public readonly long Seed;
        public readonly float? TruncationPsi;

        public SeedKey(string model, long seed, float? truncationPsi)
        {
            Model = model ?? "";
            Seed = seed;
            TruncationPsi = truncationPsi;
        }

        public bool Equals(SeedKey other) { return Model == other.Model && Seed == other.Seed && Nullable.Equals(TruncationPsi, other.TruncationPsi); }
        public override bool Equals(object obj) { return obj is SeedKey && Equals((SeedKey)obj); }
        public override int GetHashCode() { unchecked { return (Model.GetHashCode() * 31 + Seed.GetHashCode()) * 31 + TruncationPsi.GetHashCode(); } }
    }
}
