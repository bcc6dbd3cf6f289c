// Forwards every call to a real transport and counts them: how many were sent and how many were
// in flight at once. The server answers for real; only the counting is added.
using System;
using System.Threading;
using System.Threading.Tasks;
using AvatarForge.Client;
using Google.Protobuf;

namespace AvatarForge.PackageTests
{
    sealed class CountingTransport : ICallTransport
    {
        readonly ICallTransport inner;
        int calls, inFlight, maxInFlight;

        public CountingTransport(ICallTransport inner) { this.inner = inner; }

        public int Calls { get { return Volatile.Read(ref calls); } }
        public int MaxInFlight { get { return Volatile.Read(ref maxInFlight); } }
        public bool SupportsDuplex { get { return inner.SupportsDuplex; } }

        public void Reset() { calls = 0; maxInFlight = 0; }

        public async Task<RpcStatus> CallAsync<TResponse>(string method, IMessage request, MessageParser<TResponse> parser,
                                                          Func<TResponse, bool> onMessage, CallContext context,
                                                          CancellationToken ct) where TResponse : IMessage<TResponse>
        {
            Interlocked.Increment(ref calls);
            int now = Interlocked.Increment(ref inFlight);
            int seen;
            while (now > (seen = Volatile.Read(ref maxInFlight)) && Interlocked.CompareExchange(ref maxInFlight, now, seen) != seen) { }
            try { return await inner.CallAsync(method, request, parser, onMessage, context, ct).ConfigureAwait(false); }
            finally { Interlocked.Decrement(ref inFlight); }
        }

        public void Dispose() { inner.Dispose(); }
    }
}
