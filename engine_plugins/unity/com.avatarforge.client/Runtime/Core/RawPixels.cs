// Raw pixels in the layout a texture upload takes as is. Unity's Texture2D.LoadRawTextureData
// copies bytes without looking at them, so for TextureFormat.RGBA32 they must be R,G,B,A per
// pixel, rows packed (width*4 bytes, no padding) and the bottom row first. Ask the server for
// OutputOptions { Format = RawRgba8, BottomUp = true } and the reply's Data is already that (no
// copy); any other raw layout (top-down, BGRA, a padded stride) is repacked here.
using System;

namespace AvatarForge.Client
{
    public static class RawPixels
    {
        /// <summary>The output spec whose replies need no repacking for RGBA32 textures.</summary>
        public static OutputOptions TextureOutput(int size = 0)
        {
            return new OutputOptions { Format = PictureFormat.RawRgba8, Size = size, BottomUp = true };
        }

        /// <summary>Whether `p.Data` can go to LoadRawTextureData(RGBA32) unchanged.</summary>
        public static bool IsTextureReady(Picture p)
        {
            return p != null && p.Format == PictureFormat.RawRgba8 && p.BottomUp && p.RowStride == p.Width * 4 &&
                   p.Data.Length == p.Width * p.Height * 4;
        }

        /// <summary>Bottom-up, packed RGBA32 rows of a raw picture: `p.Data` itself when it already is
        /// that, a repacked copy otherwise. Throws ArgumentException for an encoded (PNG/JPEG/WebP)
        /// picture or one whose Data is shorter than Height rows of RowStride bytes.</summary>
        public static byte[] ToBottomUpRgba32(Picture p)
        {
            if (p == null) throw new ArgumentNullException("p");
            if (!p.IsRaw) throw new ArgumentException(p.Format + " is encoded: decode it (ImageConversion.LoadImage) instead", "p");
            if (p.Width <= 0 || p.Height <= 0 || p.RowStride < p.Width * 4)
                throw new ArgumentException(string.Format("bad raw layout {0}x{1}, stride {2}", p.Width, p.Height, p.RowStride), "p");
            long needed = (long)p.RowStride * (p.Height - 1) + p.Width * 4;
            if (p.Data.Length < needed)
                throw new ArgumentException(string.Format("{0} bytes for {1} rows of stride {2}", p.Data.Length, p.Height, p.RowStride), "p");
            if (IsTextureReady(p)) return p.Data;

            int row = p.Width * 4;
            var packed = new byte[row * p.Height];
            bool swap = p.Format == PictureFormat.RawBgra8;
            for (int y = 0; y < p.Height; y++)
            {
                int src = y * p.RowStride;
                int dst = (p.BottomUp ? y : p.Height - 1 - y) * row;
                if (!swap) { Buffer.BlockCopy(p.Data, src, packed, dst, row); continue; }
                for (int x = 0; x < row; x += 4)
                {
                    packed[dst + x] = p.Data[src + x + 2];
                    packed[dst + x + 1] = p.Data[src + x + 1];
                    packed[dst + x + 2] = p.Data[src + x];
                    packed[dst + x + 3] = p.Data[src + x + 3];
                }
            }
            return packed;
        }
    }
}
