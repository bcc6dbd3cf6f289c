// BufferedGrpcWebTransport (the protocol half of the WebGL transport) against the real gRPC-Web
// door, with the whole body read before parsing as UnityWebRequest does: the same bytes as the
// streaming GrpcWebChannel, streams delivered whole, and every failure a status.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AvatarForge.Client;

namespace AvatarForge.PackageTests
{
    static class BufferedTransportTests
    {
        public static async Task Run(string address)
        {
            var post = new HttpClientPost();
            var options = new ClientOptions { Address = address, AuthToken = "unity-token" };
            using (var buffered = new AvatarForgeClient(options, new BufferedGrpcWebTransport(address, post)))
            using (var streaming = new AvatarForgeClient(new ClientOptions { Address = address }))
            {
                var a = await buffered.GenerateAsync(new long[] { 3, 4 }, RawPixels.TextureOutput());
                var b = await streaming.GenerateAsync(new long[] { 3, 4 }, RawPixels.TextureOutput());
                Check.That(a.IsOk && b.IsOk && Enumerable.Range(0, 2).All(i => a.Value[i].Picture.Data.SequenceEqual(b.Value[i].Picture.Data) &&
                                                                              a.Value[i].Dna.SequenceEqual(b.Value[i].Dna)),
                           "Generate over the buffered transport = over GrpcWebChannel, byte for byte " + a.Status);
                var sent = post.LastHeaders ?? new List<KeyValuePair<string, string>>();
                Check.That(sent.Any(h => h.Key == "authorization" && h.Value == "Bearer unity-token") && sent.Any(h => h.Key == "grpc-timeout") &&
                           sent.Any(h => h.Key == "content-type" && h.Value == GrpcWebProtocol.ContentType),
                           "request headers: content-type, authorization, grpc-timeout");

                var events = new List<BatchEvent>();
                var batch = await buffered.GenerateBatchAsync(new BatchSpec { BaseSeed = 100, Count = 12, ProgressEvery = 4 }, e => { events.Add(e); return true; });
                var items = events.Where(e => e.Kind == BatchEventKind.Item).ToList();
                Check.That(batch.IsOk && batch.Value.Produced == 12 && items.Select(e => e.Item.Seed).SequenceEqual(Enumerable.Range(100, 12).Select(s => (long?)s)) &&
                           events.Any(e => e.Kind == BatchEventKind.Progress) && events.Last().Kind == BatchEventKind.Summary,
                           "GenerateBatch of 12: every item, progress and the summary, in order (delivered when the body ends) " + batch.Status);

                var morph = a.IsOk ? await buffered.InterpolateAsync(new MorphSpec { Source = a.Value[0].Dna, Target = a.Value[1].Dna, Frames = 4, Output = RawPixels.TextureOutput() }) : default(Result<IList<Frame>>);
                Check.That(morph.IsOk && morph.Value.Count == 4 && morph.Value[0].Picture.Data.SequenceEqual(a.Value[0].Picture.Data),
                           "Interpolate, 4 frames, first = source " + morph.Status);

                var missing = await new AvatarForgeClient(new ClientOptions { Address = address, Model = "no-such-model" },
                                                          new BufferedGrpcWebTransport(address, new HttpClientPost())).GetModelAsync();
                Check.That(missing.Status.Code == RpcCode.NotFound && missing.Status.Message.Contains("no-such-model"),
                           "unknown model: NotFound with the server's message " + missing.Status);
                var big = new OutputOptions { Size = 1024 };
                var limited = new AvatarForgeClient(new ClientOptions { Address = address, Model = "wide", MaxReceiveBytes = 4 * 1024 * 1024 },
                                                    new BufferedGrpcWebTransport(address, new HttpClientPost()));
                var over = await limited.GenerateAsync(new long[] { 1 }, big);
                var wide = new AvatarForgeClient(new ClientOptions { Address = address, Model = "wide" }, new BufferedGrpcWebTransport(address, new HttpClientPost()));
                var fits = await wide.GenerateAsync(new long[] { 1 }, big);
                Check.That(over.Status.Code == RpcCode.ResourceExhausted && fits.IsOk && fits.Value[0].Picture.Data.Length == 1024 * 1024 * 4,
                           "1024 px raw (over 4 MiB): ResourceExhausted under a 4 MiB limit, received under 64 MiB " + over.Status);

                var late = await wide.GenerateAsync(new long[] { 1, 2, 3, 4 }, big, null, new CallSettings { Deadline = TimeSpan.FromMilliseconds(1) });
                Check.That(late.Status.Code == RpcCode.DeadlineExceeded, "1 ms deadline: DeadlineExceeded " + late.Status);
                using (var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(20)))
                {
                    var cancelled = await wide.GenerateAsync(new long[] { 1, 2, 3, 4 }, big, null, null, cts.Token);
                    Check.That(cancelled.Status.Code == RpcCode.Cancelled, "cancelled token: Cancelled " + cancelled.Status);
                }
                var nowhere = new AvatarForgeClient(new ClientOptions { Address = "http://127.0.0.1:9" }, new BufferedGrpcWebTransport("http://127.0.0.1:9", new HttpClientPost()));
                var down = await nowhere.ListModelsAsync();
                Check.That(down.Status.Code == RpcCode.Unavailable, "no server: Unavailable " + down.Status);
                Check.That(buffered.StartEdit().Code == RpcCode.Unimplemented && buffered.StartEdit().Message.Contains("RenderPreview"),
                           "EditSession over the buffered transport: Unimplemented, naming RenderPreview");
            }
        }
    }
}
