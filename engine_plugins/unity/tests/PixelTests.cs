// RawPixels against the server's own layouts: whatever raw layout was asked for, the repacked
// rows equal what the server sends when asked for bottom-up RGBA (Texture2D.LoadRawTextureData's
// layout), and that layout itself passes through without a copy.
using System;
using System.Linq;
using System.Threading.Tasks;
using AvatarForge.Client;

namespace AvatarForge.PackageTests
{
    static class PixelTests
    {
        public static async Task Run(string address)
        {
            CountingTransport counter;
            using (var af = UnityCoreTestRunner.Client(address, out counter))
            {
                var ready = await One(af, RawPixels.TextureOutput());
                var topDown = await One(af, new OutputOptions { Format = PictureFormat.RawRgba8 });
                var bgra = await One(af, new OutputOptions { Format = PictureFormat.RawBgra8 });
                var bgraUp = await One(af, new OutputOptions { Format = PictureFormat.RawBgra8, BottomUp = true });
                var png = await One(af, new OutputOptions { Format = PictureFormat.Png });
                if (ready == null || topDown == null || bgra == null || bgraUp == null || png == null)
                {
                    Check.That(false, "Generate seed 5 in five layouts");
                    return;
                }
                var expected = ready.Data;
                Check.That(RawPixels.IsTextureReady(ready) && ReferenceEquals(RawPixels.ToBottomUpRgba32(ready), ready.Data),
                           "bottom-up RGBA8 from the server: texture-ready, passed through without a copy");
                Check.That(!expected.SequenceEqual(topDown.Data) && RawPixels.ToBottomUpRgba32(topDown).SequenceEqual(expected),
                           "top-down RGBA8 repacked = the server's bottom-up RGBA8");
                Check.That(RawPixels.ToBottomUpRgba32(bgra).SequenceEqual(expected) && RawPixels.ToBottomUpRgba32(bgraUp).SequenceEqual(expected),
                           "BGRA8 (top-down and bottom-up) repacked = bottom-up RGBA8");

                // A padded stride (other servers, or a sub-rectangle): 8 junk bytes after each row.
                int row = topDown.Width * 4;
                var padded = new byte[(row + 8) * topDown.Height];
                for (int y = 0; y < topDown.Height; y++)
                {
                    Buffer.BlockCopy(topDown.Data, y * row, padded, y * (row + 8), row);
                    for (int k = 0; k < 8; k++) padded[y * (row + 8) + row + k] = 0xEE;
                }
                var stride = new Picture { Format = PictureFormat.RawRgba8, Width = topDown.Width, Height = topDown.Height, RowStride = row + 8, Data = padded };
                Check.That(RawPixels.ToBottomUpRgba32(stride).SequenceEqual(expected), "stride of width*4+8 repacked = bottom-up RGBA8");

                Check.That(Throws(() => RawPixels.ToBottomUpRgba32(png)), "PNG: ArgumentException (decode it instead)");
                var cut = new Picture { Format = PictureFormat.RawRgba8, Width = 32, Height = 32, RowStride = 128, BottomUp = true, Data = expected.Take(expected.Length - 1).ToArray() };
                Check.That(Throws(() => RawPixels.ToBottomUpRgba32(cut)), "one byte short: ArgumentException, not a texture of garbage");
                Check.That(counter.Calls == 5, "5 calls for 5 layouts (" + counter.Calls + ")");
            }
        }

        static async Task<Picture> One(AvatarForgeClient af, OutputOptions output)
        {
            var r = await af.GenerateAsync(new long[] { 5 }, output);
            if (!r.IsOk) Console.WriteLine("  Generate: " + r.Status);
            return r.IsOk ? r.Value[0].Picture : null;
        }

        static bool Throws(Action action)
        {
            try { action(); return false; }
            catch (ArgumentException) { return true; }
        }
    }
}
