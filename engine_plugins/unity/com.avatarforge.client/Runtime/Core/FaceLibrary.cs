// NPC faces by seed or DNA, converted once (to a Texture2D in Unity) and kept in an LRU cache
// keyed by DNA hash + output spec; a second request for the same face costs no call. Seeds map to
// DNA through a second, larger cache, since a seed's face depends on the model and psi.
//
// `convert` runs where the awaits resume: there is no ConfigureAwait(false) here, so a call
// started on Unity's main thread converts on the main thread (Texture2D needs that).
using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace AvatarForge.Client
{
    /// <summary>One requested face: Value when IsOk, otherwise Status says why not.</summary>
    public sealed class LibraryFace<T>
    {
        public long? Seed;
        public byte[] Dna;
        public T Value;
        public RpcStatus Status = RpcStatus.Ok;
        public bool FromCache;
        public bool IsOk { get { return Status.IsOk; } }
    }

    public sealed class FaceLibrary<T>
    {
        readonly AvatarForgeClient client;
        readonly Func<Picture, T> convert;
        readonly LruCache<FaceKey, T> faces;
        readonly LruCache<SeedKey, byte[]> seedDna;
        readonly string model;

        /// <param name="model">the model the client calls (ClientOptions.Model), part of the seed key.</param>
        /// <param name="capacity">faces kept; the least recently used one past this goes to onEvict.</param>
        /// <param name="chunk">faces per Generate call (at most the server's ModelInfo.MaxUnaryItems).</param>
        public FaceLibrary(AvatarForgeClient client, string model, Func<Picture, T> convert, int capacity,
                           Action<T> onEvict = null, int chunk = 8)
        {
            if (client == null) throw new ArgumentNullException("client");
            if (convert == null) throw new ArgumentNullException("convert");
            if (chunk < 1) throw new ArgumentOutOfRangeException("chunk");
            this.client = client;
            this.model = model ?? "";
            this.convert = convert;
            faces = new LruCache<FaceKey, T>(capacity, onEvict);
            seedDna = new LruCache<SeedKey, byte[]>(capacity * 4);
            Chunk = chunk;
        }

        public int Chunk { get; private set; }
        public int Count { get { return faces.Count; } }

        /// <summary>Faces for `seeds`, in order; only those not cached are requested.</summary>
        public async Task<IList<LibraryFace<T>>> FromSeedsAsync(IList<long> seeds, OutputOptions output, float? truncationPsi = null,
                                                                CancellationToken ct = default(CancellationToken))
        {
            var result = seeds.Select(s => new LibraryFace<T> { Seed = s }).ToList();
            var missing = new List<int>();
            for (int i = 0; i < seeds.Count; i++)
            {
                byte[] dna;
                T value;
                if (seedDna.TryGet(new SeedKey(model, seeds[i], truncationPsi), out dna) && faces.TryGet(new FaceKey(dna, output), out value))
                {
                    result[i].Dna = dna; result[i].Value = value; result[i].FromCache = true;
                }
                else missing.Add(i);
            }
            foreach (var part in Chunks(missing))
            {
                var reply = await client.GenerateAsync(part.Select(i => seeds[i]), output, truncationPsi, null, ct);
                Fill(result, part, reply, ct, (i, face) =>
                {
                    seedDna.Set(new SeedKey(model, seeds[i], truncationPsi), face.Dna);
                    return new FaceKey(face.Dna, output);
                });
            }
            return result;
        }

        /// <summary>Faces for stored DNA, in order; only those not cached are requested.</summary>
        public async Task<IList<LibraryFace<T>>> FromDnaAsync(IList<byte[]> dnas, OutputOptions output,
                                                              CancellationToken ct = default(CancellationToken))
        {
            var result = dnas.Select(d => new LibraryFace<T> { Dna = d }).ToList();
            var missing = new List<int>();
            for (int i = 0; i < dnas.Count; i++)
            {
                T value;
                if (faces.TryGet(new FaceKey(dnas[i], output), out value)) { result[i].Value = value; result[i].FromCache = true; }
                else missing.Add(i);
            }
            foreach (var part in Chunks(missing))
            {
                var reply = await client.RenderAsync(part.Select(i => dnas[i]), output, null, ct);
                Fill(result, part, reply, ct, (i, face) => new FaceKey(dnas[i], output));
            }
            return result;
        }

        /// <summary>Evicts every face (OnDestroy: frees the textures).</summary>
        public void Clear() { faces.Clear(); }

        IEnumerable<List<int>> Chunks(List<int> indices)
        {
            for (int at = 0; at < indices.Count; at += Chunk) yield return indices.Skip(at).Take(Chunk).ToList();
        }

        /// <summary>Converts and caches the reply's faces under `key` (the key later lookups will use).
        /// Nothing is converted once `ct` is cancelled: the owner (a destroyed component) has
        /// already cleared the cache, and a texture made now would leak.</summary>
        void Fill(List<LibraryFace<T>> result, List<int> part, Result<IList<Face>> reply, CancellationToken ct, Func<int, Face, FaceKey> key)
        {
            if (ct.IsCancellationRequested) reply = new Result<IList<Face>>(new RpcStatus(RpcCode.Cancelled, "cancelled by the caller"));
            for (int k = 0; k < part.Count; k++)
            {
                var entry = result[part[k]];
                if (!reply.IsOk) { entry.Status = reply.Status; continue; }
                var face = reply.Value[k];
                if (!face.Error.IsOk) { entry.Status = new RpcStatus(face.Error.Code, face.Error.Message); continue; }
                entry.Dna = face.Dna;
                entry.Value = convert(face.Picture);
                faces.Set(key(part[k], face), entry.Value);
            }
        }
    }
}
