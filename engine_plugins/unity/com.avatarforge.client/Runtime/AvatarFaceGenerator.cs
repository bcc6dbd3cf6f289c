// NPC faces from seeds (or stored DNA) as Texture2Ds, with an LRU cache keyed by DNA hash + output
// spec: asking again for a face already on screen costs no call. Await the methods from the main
// thread (any MonoBehaviour method): the results come back on it through Unity's
// SynchronizationContext, and textures are created there.
//
// The textures belong to the cache: one evicted (past cacheCapacity) or left at OnDestroy is
// destroyed. Keep cacheCapacity above the number of faces shown at once, or copy the ones you keep.
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using AvatarForge.Client;
using UnityEngine;

namespace AvatarForge.Runtime
{
    public sealed class AvatarFaceGenerator : MonoBehaviour
    {
        public AvatarForgeSettings settings;

        [Tooltip("Texture edge in pixels; 0 = the model's native size (ModelInfo.SupportedSizes lists the others)")]
        [Min(0)] public int size;

        [Tooltip("Faces kept as textures; the least recently used beyond this are destroyed")]
        [Min(1)] public int cacheCapacity = 64;

        [Tooltip("Faces per Generate call: at most the server's max_unary_items")]
        [Min(1)] public int facesPerCall = 8;

        [Tooltip("Truncation psi for seeds; 0 = the model's default")]
        [Range(0, 1)] public float truncationPsi;

        FaceLibrary<Texture2D> library;
        readonly CancellationTokenSource destroyed = new CancellationTokenSource();

        FaceLibrary<Texture2D> Library
        {
            get
            {
                if (library == null)
                    library = new FaceLibrary<Texture2D>(settings.Client, settings.model, p => FaceTextures.ToTexture(p),
                                                         cacheCapacity, FaceTextures.Release, facesPerCall);
                return library;
            }
        }

        OutputOptions Output { get { return RawPixels.TextureOutput(size); } }

        /// <summary>One entry per seed, in order: Value is the texture, or Status says why not.</summary>
        public Task<IList<LibraryFace<Texture2D>>> GenerateAsync(IList<long> seeds)
        {
            float? psi = truncationPsi > 0 ? truncationPsi : (float?)null;
            return Library.FromSeedsAsync(seeds, Output, psi, destroyed.Token);
        }

        /// <summary>Stored faces (DNA from a save game) as textures.</summary>
        public Task<IList<LibraryFace<Texture2D>>> RenderAsync(IList<byte[]> dnas)
        {
            return Library.FromDnaAsync(dnas, Output, destroyed.Token);
        }

        void OnDestroy()
        {
            destroyed.Cancel();
            if (library != null) library.Clear();
        }
    }
}
