// Pictures from the server -> Texture2D (main thread only, as every Texture2D call).
// Raw RGBA8 asked with BottomUp (RawPixels.TextureOutput) is already LoadRawTextureData's layout
// and is uploaded without a copy; other raw layouts are repacked by RawPixels; PNG and JPEG go
// through ImageConversion.LoadImage. WebP cannot: Unity does not decode it.
using System;
using AvatarForge.Client;
using UnityEngine;

namespace AvatarForge.Runtime
{
    public static class FaceTextures
    {
        /// <summary>The picture in a texture: `reuse` when given (resized as needed), else a new one.
        /// Faces are colour images, so textures are sRGB (linear = false), without mipmaps.</summary>
        public static Texture2D ToTexture(Picture picture, Texture2D reuse = null)
        {
            if (picture == null) throw new ArgumentNullException("picture");
            if (picture.Format == PictureFormat.Webp)
                throw new ArgumentException("Unity cannot decode WebP (ImageConversion.LoadImage reads PNG and JPEG): ask for RawRgba8 or Png");
            var texture = reuse != null ? reuse : new Texture2D(Math.Max(1, picture.Width), Math.Max(1, picture.Height), TextureFormat.RGBA32, false, false);
            texture.name = "AvatarForge face";
            texture.wrapMode = TextureWrapMode.Clamp;
            if (picture.IsRaw)
            {
                if (texture.width != picture.Width || texture.height != picture.Height || texture.format != TextureFormat.RGBA32)
                    texture.Reinitialize(picture.Width, picture.Height, TextureFormat.RGBA32, false);
                texture.LoadRawTextureData(RawPixels.ToBottomUpRgba32(picture));
                texture.Apply(false, false);
            }
            else if (!ImageConversion.LoadImage(texture, picture.Data))
            {
                throw new ArgumentException(picture.Format + " bytes that Unity could not decode");
            }
            return texture;
        }

        /// <summary>Frees a texture's native memory (what an evicted cache entry needs).</summary>
        public static void Release(Texture2D texture)
        {
            if (texture == null) return;
            if (Application.isPlaying) UnityEngine.Object.Destroy(texture);
            else UnityEngine.Object.DestroyImmediate(texture);
        }
    }
}
