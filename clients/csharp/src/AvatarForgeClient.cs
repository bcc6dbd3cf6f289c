// AvatarForge C# client: StyleGAN2 faces from an AvatarForge server, the same surface as the C++
// core (clients/cpp/include/avatarforge/client.h), in C# 7.2 so Mono and every Unity version
// compile it.
//
//   using (var af = new AvatarForgeClient(new ClientOptions { Address = "http://127.0.0.1:8081" }))
//   {
//       var faces = await af.GenerateAsync(new long[] { 42 });
//       if (faces.IsOk) Upload(faces.Value[0].Picture);  // raw RGBA8, rows top to bottom
//       else Debug.Log(faces.Status);
//   }
//
// Every call returns a Result (status + value) and never throws for an RPC failure. Continuations
// and stream callbacks run on thread-pool threads, never the game's main thread: marshal results
// yourself (the Unity package does). One client is safe to share between threads.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Google.Protobuf;
using V1 = AvatarForge.V1;
using static AvatarForge.Client.MessageConversion;

namespace AvatarForge.Client
{
    public sealed class AvatarForgeClient : IDisposable
    {
        const string Service = "/avatarforge.v1.AvatarForge/";
        readonly ClientOptions options;
        readonly ICallTransport transport;

        /// <summary>A client over gRPC-Web (GrpcWebChannel) to options.Address.</summary>
        public AvatarForgeClient(ClientOptions options) : this(options, new GrpcWebChannel(options.Address)) { }

        /// <summary>A client over any transport (UnityWebRequest, native HTTP/2...); it owns it.</summary>
        public AvatarForgeClient(ClientOptions options, ICallTransport transport)
        {
            if (options == null) throw new ArgumentNullException("options");
            if (transport == null) throw new ArgumentNullException("transport");
            this.options = options;
            this.transport = transport;
        }

        public ICallTransport Transport { get { return transport; } }

        string ModelName { get { return options.Model ?? ""; } }

        public async Task<Result<IList<ModelInfo>>> ListModelsAsync(CallSettings call = null, CancellationToken ct = default(CancellationToken))
        {
            var r = await Unary("ListModels", new V1.ListModelsRequest(), V1.ListModelsResponse.Parser, call, ct).ConfigureAwait(false);
            return r.IsOk ? new Result<IList<ModelInfo>>(r.Value.Models.Select(ToModel).ToList()) : new Result<IList<ModelInfo>>(r.Status);
        }

        /// <summary>One model's shape, sizes, directions and limits; model "" = ClientOptions.Model,
        /// or the server's default.</summary>
        public async Task<Result<ModelInfo>> GetModelAsync(string model = "", CallSettings call = null, CancellationToken ct = default(CancellationToken))
        {
            var request = new V1.GetModelRequest { Model = string.IsNullOrEmpty(model) ? ModelName : model };
            var r = await Unary("GetModel", request, V1.ModelInfo.Parser, call, ct).ConfigureAwait(false);
            return r.IsOk ? new Result<ModelInfo>(ToModel(r.Value)) : new Result<ModelInfo>(r.Status);
        }

        /// <summary>A few faces from seeds (0 .. 2^32-1; at most ModelInfo.MaxUnaryItems), in order.</summary>
        public Task<Result<IList<Face>>> GenerateAsync(IEnumerable<long> seeds, OutputOptions output = null, float? truncationPsi = null,
                                                       CallSettings call = null, CancellationToken ct = default(CancellationToken))
        {
            var request = new V1.GenerateRequest { RequestId = RequestId(call), Model = ModelName, Output = ToSpec(output) };
            request.Characters.AddRange(seeds.Select(s => new V1.CharacterSource { Seed = s }));
            if (truncationPsi.HasValue) request.TruncationPsi = truncationPsi.Value;
            return Faces("Generate", request, call, ct);
        }

        /// <summary>Stored faces (DNA bytes) rendered again, e.g. at another size or format.</summary>
        public Task<Result<IList<Face>>> RenderAsync(IEnumerable<byte[]> dnas, OutputOptions output = null,
                                                     CallSettings call = null, CancellationToken ct = default(CancellationToken))
        {
            var request = new V1.GenerateRequest { RequestId = RequestId(call), Model = ModelName, Output = ToSpec(output) };
            foreach (var bytes in dnas)
            {
                var dna = ParseDna(bytes);
                if (dna == null) return Task.FromResult(BadDna<IList<Face>>("dnas"));
                request.Characters.Add(new V1.CharacterSource { Dna = dna });
            }
            return Faces("Generate", request, call, ct);
        }

        /// <summary>Bulk generation. `onEvent` sees every item, progress event and the summary, in
        /// order, as they arrive (on the reading thread); returning false cancels the call. The
        /// result is the summary. After a crash, call again with StartIndex = the first index not stored.</summary>
        public async Task<Result<BatchSummary>> GenerateBatchAsync(BatchSpec spec, Func<BatchEvent, bool> onEvent,
                                                                   CallSettings call = null, CancellationToken ct = default(CancellationToken))
        {
            var request = new V1.GenerateBatchRequest
            {
                RequestId = RequestId(call), Model = ModelName, StartIndex = spec.StartIndex,
                Output = ToSpec(spec.Output), ProgressEvery = spec.ProgressEvery,
            };
            if (spec.Seeds.Count > 0) request.List = new V1.SeedList { Seeds = { spec.Seeds } };
            else request.Range = new V1.SeedRange { BaseSeed = spec.BaseSeed, Count = spec.Count };
            if (spec.TruncationPsi.HasValue) request.TruncationPsi = spec.TruncationPsi.Value;

            BatchSummary summary = null;
            var status = await transport.CallAsync(Service + "GenerateBatch", request, V1.GenerateBatchEvent.Parser, e =>
            {
                var ev = ToBatchEvent(e);
                if (ev == null) return true;
                if (ev.Kind == BatchEventKind.Summary) summary = ev.Summary;
                return onEvent(ev);
            }, Context(call, options.StreamDeadline), ct).ConfigureAwait(false);
            if (!status.IsOk) return new Result<BatchSummary>(status);
            return summary != null ? new Result<BatchSummary>(summary) : Result<BatchSummary>.Fail(RpcCode.Internal, "the stream ended without a summary");
        }

        /// <summary>One DNA + slider values -> one image and the edited DNA: the editor path that
        /// works over gRPC-Web (WebGL), one call per slider move.</summary>
        public async Task<Result<PreviewResult>> RenderPreviewAsync(PreviewSpec spec, CallSettings call = null,
                                                                    CancellationToken ct = default(CancellationToken))
        {
            var dna = ParseDna(spec.Dna);
            if (dna == null) return BadDna<PreviewResult>("dna");
            var request = new V1.RenderPreviewRequest { RequestId = RequestId(call), Model = ModelName, Dna = dna, Output = ToSpec(spec.Output) };
            request.Edits.AddRange(spec.Edits.Select(ToEdit));
            request.SetParts.AddRange(spec.SetParts.Select(ToPartValue));
            if (spec.TruncationPsi.HasValue) request.TruncationPsi = spec.TruncationPsi.Value;
            if (spec.Mix != null)
            {
                var other = ParseDna(spec.Mix.Other);
                if (other == null) return BadDna<PreviewResult>("mix.other");
                request.Mix = new V1.MixSpec { Other = other, LayerStart = spec.Mix.LayerStart, LayerEnd = spec.Mix.LayerEnd };
                if (spec.Mix.Weight.HasValue) request.Mix.Weight = spec.Mix.Weight.Value;
            }
            var r = await Unary("RenderPreview", request, V1.RenderPreviewResponse.Parser, call, ct).ConfigureAwait(false);
            if (!r.IsOk) return new Result<PreviewResult>(r.Status);
            return new Result<PreviewResult>(new PreviewResult { Picture = ToPicture(r.Value.Image), Dna = DnaBytes(r.Value.Dna), Timing = ToTiming(r.Value.Timing) });
        }

        /// <summary>The parts of faces, seeds first, then stored DNAs (together at most
        /// ModelInfo.MaxUnaryItems), for a model whose ModelInfo.Parts is not empty; other models
        /// answer InvalidArgument. Exact for seeds and for seed faces whose only edits are set parts
        /// (PartsSource.Seed), the classifier's reading of the render otherwise.</summary>
        public async Task<Result<IList<FaceParts>>> GetPartsAsync(IEnumerable<long> seeds, IEnumerable<byte[]> dnas = null,
                                                                  CallSettings call = null, CancellationToken ct = default(CancellationToken))
        {
            var request = new V1.GetPartsRequest { RequestId = RequestId(call), Model = ModelName };
            request.Characters.AddRange((seeds ?? Enumerable.Empty<long>()).Select(s => new V1.CharacterSource { Seed = s }));
            foreach (var bytes in dnas ?? Enumerable.Empty<byte[]>())
            {
                var dna = ParseDna(bytes);
                if (dna == null) return BadDna<IList<FaceParts>>("dnas");
                request.Characters.Add(new V1.CharacterSource { Dna = dna });
            }
            var r = await Unary("GetParts", request, V1.GetPartsResponse.Parser, call, ct).ConfigureAwait(false);
            return r.IsOk ? new Result<IList<FaceParts>>(r.Value.Faces.Select(ToFaceParts).ToList()) : new Result<IList<FaceParts>>(r.Status);
        }

        /// <summary>Pictures of one character -> its DNA, the reconstruction and how well it matched.</summary>
        public async Task<Result<EncodeResult>> EncodeAsync(EncodeSpec spec, CallSettings call = null,
                                                            CancellationToken ct = default(CancellationToken))
        {
            var request = new V1.EncodeRequest
            {
                RequestId = RequestId(call), Model = ModelName, Output = ToSpec(spec.Output),
                RefineSteps = spec.RefineSteps, RefineBudgetMs = spec.RefineBudgetMs,
            };
            request.Images.AddRange(spec.Pictures.Select(ToFaceImage));
            var r = await Unary("Encode", request, V1.EncodeResponse.Parser, call, ct).ConfigureAwait(false);
            if (!r.IsOk) return new Result<EncodeResult>(r.Status);
            var s = r.Value.Scores ?? new V1.EncodeScores();
            return new Result<EncodeResult>(new EncodeResult
            {
                Dna = DnaBytes(r.Value.Dna), Picture = ToPicture(r.Value.Image), Timing = ToTiming(r.Value.Timing),
                PsnrDb = s.PsnrDb, AttributeAgreement = s.HasAttributeAgreement ? s.AttributeAgreement : (float?)null,
                Spread = s.Spread, RefineStepsDone = s.RefineSteps,
            });
        }

        /// <summary>Frames along Source -> Via... -> Target, in order.</summary>
        public async Task<Result<IList<Frame>>> InterpolateAsync(MorphSpec spec, CallSettings call = null,
                                                                 CancellationToken ct = default(CancellationToken))
        {
            var request = new V1.InterpolateRequest
            {
                RequestId = RequestId(call), Model = ModelName, Source = ParseDna(spec.Source), Target = ParseDna(spec.Target),
                Frames = spec.Frames, Output = ToSpec(spec.Output),
                Space = spec.Slerp ? V1.InterpolationSpace.WPlusSlerp : V1.InterpolationSpace.WPlusLinear,
            };
            if (request.Source == null || request.Target == null) return BadDna<IList<Frame>>(request.Source == null ? "source" : "target");
            foreach (var via in spec.Via)
            {
                var dna = ParseDna(via);
                if (dna == null) return BadDna<IList<Frame>>("via");
                request.Via.Add(dna);
            }
            var frames = new List<Frame>();
            var status = await transport.CallAsync(Service + "Interpolate", request, V1.InterpolateFrame.Parser, f =>
            {
                frames.Add(new Frame { Index = f.Index, T = f.T, Picture = ToPicture(f.Image), Dna = DnaBytes(f.Dna) });
                return true;
            }, Context(call, options.StreamDeadline), ct).ConfigureAwait(false);
            return status.IsOk ? new Result<IList<Frame>>(frames) : new Result<IList<Frame>>(status);
        }

        /// <summary>Children of two or more faces: a weighted blend, or (styleMix) each parent's layers.</summary>
        public Task<Result<IList<Face>>> MixAsync(IList<MixParent> parents, bool styleMix = false, OutputOptions output = null,
                                                  CallSettings call = null, CancellationToken ct = default(CancellationToken))
        {
            var request = new V1.MixRequest { RequestId = RequestId(call), Model = ModelName, Mode = styleMix ? V1.MixMode.Style : V1.MixMode.Blend, Output = ToSpec(output) };
            foreach (var p in parents)
            {
                var dna = ParseDna(p.Dna);
                if (dna == null) return Task.FromResult(BadDna<IList<Face>>("parents"));
                request.Parents.Add(new V1.MixParent { Dna = dna, Weight = p.Weight, LayerStart = p.LayerStart, LayerEnd = p.LayerEnd });
            }
            return Faces("Mix", request, call, ct);
        }

        /// <summary>`count` variations of one face; the same seed gives the same variations.</summary>
        public Task<Result<IList<Face>>> MutateAsync(byte[] dna, int count, float strength, long seed, OutputOptions output = null,
                                                     CallSettings call = null, CancellationToken ct = default(CancellationToken))
        {
            var parsed = ParseDna(dna);
            if (parsed == null) return Task.FromResult(BadDna<IList<Face>>("dna"));
            var request = new V1.MutateRequest { RequestId = RequestId(call), Model = ModelName, Dna = parsed, Count = count, Strength = strength, Seed = seed, Output = ToSpec(output) };
            return Faces("Mutate", request, call, ct);
        }

        /// <summary>EditSession is a bidirectional stream. gRPC-Web cannot carry one, so over this
        /// client's transports it is Unimplemented: call RenderPreviewAsync with the editor's state
        /// on each slider move instead (the README shows the native HTTP/2 path where it can run).</summary>
        public RpcStatus StartEdit()
        {
            return new RpcStatus(RpcCode.Unimplemented, transport.SupportsDuplex
                ? "EditSession is not in this client yet: call RenderPreviewAsync on each slider move"
                : "EditSession is a bidirectional stream, which " + transport.GetType().Name +
                  " (gRPC-Web) cannot carry: call RenderPreviewAsync on each slider move instead");
        }

        public void Dispose() { transport.Dispose(); }

        // ------------------------------------------------------------ plumbing

        async Task<Result<IList<Face>>> Faces(string method, IMessage request, CallSettings call, CancellationToken ct)
        {
            var r = await Unary(method, request, V1.GenerateResponse.Parser, call, ct).ConfigureAwait(false);
            return r.IsOk ? new Result<IList<Face>>(r.Value.Results.Select(ToFace).ToList()) : new Result<IList<Face>>(r.Status);
        }

        async Task<Result<T>> Unary<T>(string method, IMessage request, MessageParser<T> parser, CallSettings call,
                                       CancellationToken ct) where T : IMessage<T>
        {
            T reply = default(T);
            int count = 0;
            var status = await transport.CallAsync(Service + method, request, parser, m => { reply = m; return ++count == 1; },
                                                   Context(call, options.UnaryDeadline), ct).ConfigureAwait(false);
            if (!status.IsOk) return new Result<T>(status);
            return count == 1 ? new Result<T>(reply) : Result<T>.Fail(RpcCode.Internal, "a unary reply with " + count + " messages");
        }

        CallContext Context(CallSettings call, TimeSpan defaultDeadline)
        {
            var deadline = call != null && call.Deadline.HasValue ? call.Deadline.Value : defaultDeadline;
            var context = new CallContext { MaxReceiveBytes = options.MaxReceiveBytes };
            if (deadline > TimeSpan.Zero) context.Timeout = deadline;
            if (!string.IsNullOrEmpty(options.AuthToken))
                context.Headers.Add(new KeyValuePair<string, string>("authorization", "Bearer " + options.AuthToken));
            return context;
        }

        static string RequestId(CallSettings call) { return call != null ? call.RequestId ?? "" : ""; }

        static Result<T> BadDna<T>(string field)
        {
            return new Result<T>(new RpcStatus(RpcCode.InvalidArgument, field + ": not a serialized avatarforge.v1.CharacterDna",
                                               new[] { new FieldViolation { Field = field, Description = "not a CharacterDna" } }));
        }
    }
}
