// Latest wins: a slider dragged across its range fires dozens of changes a second, and a render
// takes longer than that. Queueing every change would show a face seconds behind the slider, so
// at most one request is in flight; changes that arrive meanwhile overwrite one pending slot,
// and when the request returns only the newest state is sent. The last state submitted is always
// rendered, and the number of requests is bounded by renders, not by slider events.
//
// Threads: Submit from one thread (Unity's main thread). Results are delivered through the
// SynchronizationContext that was current when the request started (awaits here do not use
// ConfigureAwait(false)), so under Unity's UnitySynchronizationContext onResult runs on the main
// thread and may touch textures: no dispatcher component is needed. Without a context (a console
// program) onResult runs on a thread-pool thread, one call at a time.
using System;
using System.Threading;
using System.Threading.Tasks;

namespace AvatarForge.Client
{
    public sealed class LatestWinsScheduler<TState, TResult> : IDisposable
    {
        readonly Func<TState, CancellationToken, Task<TResult>> send;
        readonly Action<TState, TResult, bool> onResult;
        readonly object gate = new object();
        readonly CancellationTokenSource disposed = new CancellationTokenSource();
        TState pending;
        bool hasPending, inFlight;
        int sent;
        Task pump = Task.FromResult(0);

        /// <param name="send">Renders one state (e.g. RenderPreviewAsync). It must not throw for
        /// an RPC failure: return the failure as a result.</param>
        /// <param name="onResult">(state, its result, isLatest): isLatest is false when a newer
        /// state is already waiting, so a UI may show the image but not yet treat it as final.</param>
        public LatestWinsScheduler(Func<TState, CancellationToken, Task<TResult>> send, Action<TState, TResult, bool> onResult)
        {
            if (send == null) throw new ArgumentNullException("send");
            if (onResult == null) throw new ArgumentNullException("onResult");
            this.send = send;
            this.onResult = onResult;
        }

        /// <summary>Requests sent so far.</summary>
        public int Sent { get { lock (gate) return sent; } }

        /// <summary>Whether a request is running or a state is waiting.</summary>
        public bool Busy { get { lock (gate) return inFlight || hasPending; } }

        /// <summary>Completes when nothing is in flight or pending (for tests and for "wait, then commit").</summary>
        public Task Idle { get { lock (gate) return pump; } }

        /// <summary>Makes `state` the next one rendered, replacing any state still waiting.</summary>
        public void Submit(TState state)
        {
            lock (gate)
            {
                if (disposed.IsCancellationRequested) throw new ObjectDisposedException("LatestWinsScheduler");
                pending = state;
                hasPending = true;
                if (inFlight) return;
                inFlight = true;
            }
            var running = Pump();
            lock (gate) pump = running;
        }

        /// <summary>Drops a waiting state (the one in flight still completes and is delivered).</summary>
        public void DropPending()
        {
            lock (gate) { hasPending = false; pending = default(TState); }
        }

        async Task Pump()
        {
            try
            {
                while (true)
                {
                    TState state;
                    lock (gate)
                    {
                        if (!hasPending || disposed.IsCancellationRequested) { inFlight = false; return; }
                        state = pending;
                        pending = default(TState);
                        hasPending = false;
                        sent++;
                    }
                    TResult result = await send(state, disposed.Token);
                    bool latest;
                    lock (gate)
                    {
                        if (disposed.IsCancellationRequested) { inFlight = false; return; }
                        latest = !hasPending;
                    }
                    onResult(state, result, latest);
                }
            }
            catch
            {
                // A bug in `send` or `onResult`: the scheduler stays usable and the exception
                // surfaces through Idle.
                lock (gate) { inFlight = false; hasPending = false; }
                throw;
            }
        }

        /// <summary>Cancels the request in flight and delivers nothing more.</summary>
        public void Dispose()
        {
            lock (gate)
            {
                if (disposed.IsCancellationRequested) return;
                hasPending = false;
                disposed.Cancel();
            }
        }
    }
}
