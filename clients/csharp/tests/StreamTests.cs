// GenerateBatch over gRPC-Web: read as it arrives, resumed, with per-item errors, stopped by the
// handler, by a CancellationToken and by a deadline.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace AvatarForge.Client.Tests
{
    static class StreamTests
    {
        public static async Task Run(AvatarForgeClient af, string address, IList<Face> faces)
        {
            var events = new List<BatchEvent>();
            var r = await af.GenerateBatchAsync(new BatchSpec { BaseSeed = 1, Count = 40, ProgressEvery = 10 }, e => { events.Add(e); return true; });
            var items = events.Where(e => e.Kind == BatchEventKind.Item).Select(e => e.Item).ToList();
            var progress = events.Where(e => e.Kind == BatchEventKind.Progress).Select(e => e.Progress.Completed).ToList();
            Check.That(r.IsOk && items.Select(i => i.Seed).SequenceEqual(Enumerable.Range(1, 40).Select(s => (long?)s)) &&
                       items.Select(i => i.Index).SequenceEqual(Enumerable.Range(0, 40).Select(s => (long)s)) &&
                       r.Value.Produced == 40 && r.Value.Total == 40 && events.Last().Kind == BatchEventKind.Summary,
                       "GenerateBatch 40: items in order, then the summary " + r.Status);
            Check.That(progress.Count >= 4 && progress.SequenceEqual(progress.OrderBy(c => c)) && progress.Last() == 40,
                       "progress every 10: " + string.Join(",", progress));
            Check.That(faces.Count == 3 && items.Count == 40 && items.Take(3).Select(i => i.Picture.Data).Zip(faces, (a, b) => a.SequenceEqual(b.Picture.Data)).All(x => x),
                       "stream items are the pixels Generate gives");

            var resumed = new List<Face>();
            r = await af.GenerateBatchAsync(new BatchSpec { BaseSeed = 1, Count = 40, StartIndex = 25 },
                                            e => { if (e.Kind == BatchEventKind.Item) resumed.Add(e.Item); return true; });
            Check.That(r.IsOk && resumed.Select(i => i.Index).SequenceEqual(Enumerable.Range(25, 15).Select(s => (long)s)) &&
                       r.Value.Skipped == 25 && r.Value.Produced == 15 && resumed[0].Picture.Data.SequenceEqual(items[25].Picture.Data),
                       "resume at StartIndex 25: items 25..39 only, skipped 25 " + r.Status);

            var mixed = new List<Face>();
            r = await af.GenerateBatchAsync(new BatchSpec { BaseSeed = 4294967294, Count = 4 },
                                            e => { if (e.Kind == BatchEventKind.Item) mixed.Add(e.Item); return true; });
            Check.That(r.IsOk && mixed.Count == 4 && mixed.Take(2).All(i => i.Error.IsOk && i.Picture != null) &&
                       mixed.Skip(2).All(i => i.Error.Code == RpcCode.OutOfRange && i.Error.Message.Length > 0 && i.Dna.Length == 0) &&
                       r.Value.Failed == 2 && r.Value.Produced == 2,
                       "seeds past 2^32-1 fail as items (OutOfRange), the stream goes on " + r.Status);

            await Stopping(af);
        }

        // Also what shows the stream is read as it arrives: a client that buffered the body would
        // see item 3 of 100,000 only after the server had made them all (minutes), not in seconds.
        static async Task Stopping(AvatarForgeClient af)
        {
            int seen = 0;
            var clock = Stopwatch.StartNew();
            var r = await af.GenerateBatchAsync(new BatchSpec { Count = 100000 }, e => e.Kind != BatchEventKind.Item || ++seen < 3);
            Check.That(r.Status.Code == RpcCode.Cancelled && seen == 3 && clock.Elapsed.TotalSeconds < 10,
                       string.Format("handler returns false at item 3 -> Cancelled in {0:F2} s {1}", clock.Elapsed.TotalSeconds, r.Status));

            using (var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300)))
            {
                clock.Restart();
                r = await af.GenerateBatchAsync(new BatchSpec { Count = 100000 }, e => true, null, cts.Token);
                Check.That(r.Status.Code == RpcCode.Cancelled && clock.Elapsed.TotalSeconds < 5,
                           string.Format("CancellationToken after 0.3 s -> Cancelled in {0:F2} s {1}", clock.Elapsed.TotalSeconds, r.Status));
            }

            clock.Restart();
            r = await af.GenerateBatchAsync(new BatchSpec { Count = 20000 }, e => true, new CallSettings { Deadline = TimeSpan.FromMilliseconds(300) });
            Check.That(r.Status.Code == RpcCode.DeadlineExceeded && clock.Elapsed.TotalSeconds < 5,
                       string.Format("20000-item batch, 300 ms deadline -> DeadlineExceeded in {0:F2} s {1}", clock.Elapsed.TotalSeconds, r.Status));
            var quick = await af.GenerateAsync(new long[] { 1 }, null, null, new CallSettings { Deadline = TimeSpan.FromMilliseconds(1) });
            Check.That(quick.Status.Code == RpcCode.DeadlineExceeded, "Generate with a 1 ms deadline -> DeadlineExceeded " + quick.Status);

            var after = await af.GetModelAsync();
            Check.That(after.IsOk, "the server still answers after cancelled and expired calls " + after.Status);
        }
    }
}
