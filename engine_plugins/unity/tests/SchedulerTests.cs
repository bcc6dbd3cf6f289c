// The character creator's slider path against the real RenderPreview: a burst and a paced drag of
// 50 slider updates each, through LatestWinsScheduler as AvatarEditor drives it. At most one call
// is in flight, far fewer than 50 are sent, and the image finally shown is exactly a fresh
// RenderPreview of the final slider state. FrameLoop plays Unity: a single-threaded
// SynchronizationContext pumped once per "frame", like UnitySynchronizationContext in Update,
// and checks that every result is delivered on that thread.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using AvatarForge.Client;

namespace AvatarForge.PackageTests
{
    static class SchedulerTests
    {
        sealed class Delivery
        {
            public PreviewSpec State;
            public Result<PreviewResult> Result;
            public bool IsLatest;
            public int Thread;
        }

        public static async Task Run(string address)
        {
            CountingTransport counter;
            using (var af = UnityCoreTestRunner.Client(address, out counter))
            {
                var setup = await Setup(af);
                if (setup == null) return;
                var edits = setup.Item1;
                var direction = setup.Item2;
                var output = RawPixels.TextureOutput();

                var delivered = new List<Delivery>();
                var scheduler = new LatestWinsScheduler<PreviewSpec, Result<PreviewResult>>(
                    (spec, ct) => af.RenderPreviewAsync(spec, null, ct),
                    (s, r, latest) => { lock (delivered) delivered.Add(new Delivery { State = s, Result = r, IsLatest = latest }); });
                counter.Reset();
                PreviewSpec last = null;
                for (int i = 1; i <= 50; i++)
                {
                    edits.Set(direction.Name, direction.StrengthMin + (direction.StrengthMax - direction.StrengthMin) * i / 50f);
                    scheduler.Submit(last = edits.Snapshot(output));
                }
                await scheduler.Idle;
                var final = delivered.LastOrDefault();
                Check.That(counter.MaxInFlight == 1 && counter.Calls == scheduler.Sent && scheduler.Sent <= 3 && delivered.Count == scheduler.Sent,
                           string.Format("burst of 50 updates: {0} RenderPreview calls, at most {1} in flight", counter.Calls, counter.MaxInFlight));
                Check.That(final != null && final.IsLatest && ReferenceEquals(final.State, last) && delivered.Take(delivered.Count - 1).All(d => !d.IsLatest),
                           "the last delivery is the final state, marked latest; earlier ones are not");
                await SameAsFresh(af, final, last, "burst");

                counter.Reset();
                delivered.Clear();
                edits.Set(direction.Name, 0);
                scheduler.Submit(edits.Snapshot(output));
                scheduler.Dispose();
                await Task.Delay(300);
                Check.That(delivered.Count == 0 && !scheduler.Busy, "Dispose with a call in flight: nothing delivered afterwards");

                var errors = new List<Delivery>();
                var strict = new LatestWinsScheduler<PreviewSpec, Result<PreviewResult>>(
                    (spec, ct) => af.RenderPreviewAsync(spec, null, ct),
                    (s, r, latest) => errors.Add(new Delivery { State = s, Result = r }));
                var wrong = edits.Snapshot(output);
                wrong.Edits.Add(new DirectionEdit("no-such-direction", 1));
                strict.Submit(wrong);
                await strict.Idle;
                strict.Submit(edits.Snapshot(output));
                await strict.Idle;
                Check.That(errors.Count == 2 && errors[0].Result.Status.Code == RpcCode.InvalidArgument && errors[1].Result.IsOk,
                           "a rejected state is delivered as a status and the next one renders (" +
                           (errors.Count > 0 ? errors[0].Result.Status.ToString() : "none") + ")");
            }
        }

        /// <summary>A paced drag (50 updates, one per 1 ms frame) on a Unity-like main thread. The frame
        /// must be shorter than a RenderPreview round trip, or no update ever finds a call in flight and
        /// every one is sent (rightly): on an idle machine the tiny model's round trip over gRPC-Web is
        /// about 5 ms, which a 4 ms frame matched (50 calls for 50 updates).</summary>
        public static void FrameLoop(string address)
        {
            var main = new FrameContext();
            var previous = SynchronizationContext.Current;
            SynchronizationContext.SetSynchronizationContext(main);
            try
            {
                CountingTransport counter;
                using (var af = UnityCoreTestRunner.Client(address, out counter))
                {
                    var setupTask = Setup(af);
                    if (!main.PumpUntil(() => setupTask.IsCompleted, 30000) || setupTask.Result == null) { Check.That(false, "frame loop: setup"); return; }
                    var edits = setupTask.Result.Item1;
                    var direction = setupTask.Result.Item2;
                    var delivered = new List<Delivery>();
                    var scheduler = new LatestWinsScheduler<PreviewSpec, Result<PreviewResult>>(
                        (spec, ct) => af.RenderPreviewAsync(spec, null, ct),
                        (s, r, latest) => delivered.Add(new Delivery { State = s, Result = r, IsLatest = latest, Thread = Thread.CurrentThread.ManagedThreadId }));
                    counter.Reset();
                    PreviewSpec last = null;
                    var clock = Stopwatch.StartNew();
                    for (int i = 1; i <= 50; i++)
                    {
                        edits.Set(direction.Name, direction.StrengthMax * (float)Math.Sin(i / 8.0));
                        scheduler.Submit(last = edits.Snapshot(RawPixels.TextureOutput()));
                        main.PumpUntil(() => false, 1);  // one frame
                    }
                    bool settled = main.PumpUntil(() => !scheduler.Busy, 30000);
                    var final = delivered.LastOrDefault();
                    int me = Thread.CurrentThread.ManagedThreadId;
                    Check.That(settled && counter.MaxInFlight == 1 && counter.Calls < 50 && counter.Calls == delivered.Count,
                               string.Format("paced drag, 50 updates over {0} ms: {1} calls, at most {2} in flight", clock.ElapsedMilliseconds, counter.Calls, counter.MaxInFlight));
                    Check.That(delivered.Count > 0 && delivered.All(d => d.Thread == me), "every result delivered on the main (frame-loop) thread");
                    var fresh = af.RenderPreviewAsync(last);
                    main.PumpUntil(() => fresh.IsCompleted, 30000);
                    Check.That(final != null && final.IsLatest && ReferenceEquals(final.State, last) && fresh.IsCompleted && fresh.Result.IsOk &&
                               final.Result.Value.Picture.Data.SequenceEqual(fresh.Result.Value.Picture.Data) &&
                               final.Result.Value.Dna.SequenceEqual(fresh.Result.Value.Dna),
                               "paced drag: the final image and DNA = a fresh RenderPreview of the final state");
                }
            }
            finally
            {
                SynchronizationContext.SetSynchronizationContext(previous);
            }
        }

        static async Task<Tuple<SliderEdits, DirectionInfo>> Setup(AvatarForgeClient af)
        {
            var model = await af.GetModelAsync();
            var face = await af.GenerateAsync(new long[] { 21 });
            if (!model.IsOk || !face.IsOk || model.Value.Directions.Count == 0)
            {
                Check.That(false, "GetModel and Generate for the editor " + model.Status + " " + face.Status);
                return null;
            }
            var direction = model.Value.Directions[0];
            return Tuple.Create(new SliderEdits(face.Value[0].Dna, model.Value.Directions), direction);
        }

        static async Task SameAsFresh(AvatarForgeClient af, Delivery final, PreviewSpec state, string what)
        {
            var fresh = await af.RenderPreviewAsync(state);
            var zero = await af.RenderPreviewAsync(new PreviewSpec { Dna = state.Dna, Output = state.Output });
            Check.That(final != null && final.Result.IsOk && fresh.IsOk && zero.IsOk &&
                       final.Result.Value.Picture.Data.SequenceEqual(fresh.Value.Picture.Data) && final.Result.Value.Dna.SequenceEqual(fresh.Value.Dna) &&
                       !fresh.Value.Picture.Data.SequenceEqual(zero.Value.Picture.Data),
                       what + ": the final image and DNA = a fresh RenderPreview of the final state (and differ from the unedited face)");
        }

        /// <summary>Unity's main thread in miniature: posted continuations run only when pumped.</summary>
        sealed class FrameContext : SynchronizationContext
        {
            readonly BlockingCollection<Action> queue = new BlockingCollection<Action>();

            public override void Post(SendOrPostCallback d, object state) { queue.Add(() => d(state)); }
            public override void Send(SendOrPostCallback d, object state) { throw new NotSupportedException("Send from another thread"); }

            /// <summary>Runs posted work until `done` or `ms` elapse; false on timeout.</summary>
            public bool PumpUntil(Func<bool> done, int ms)
            {
                var clock = Stopwatch.StartNew();
                while (!done())
                {
                    int left = ms - (int)clock.ElapsedMilliseconds;
                    if (left <= 0) return false;
                    Action work;
                    // Short waits: a task completed on a pool thread posts nothing to wake us.
                    if (queue.TryTake(out work, Math.Min(left, 5))) work();
                }
                return true;
            }
        }
    }
}
