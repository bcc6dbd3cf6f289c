// The seam between AvatarForgeClient and the wire. GrpcWebChannel (gRPC-Web over HttpClient,
// HTTP/1.1) is the one implementation here; a Unity build can put another behind the same
// interface: UnityWebRequest on WebGL, or Grpc.Net.Client's CallInvoker over
// YetAnotherHttpHandler (native HTTP/2) on desktop and mobile. The README shows both.
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Google.Protobuf;

namespace AvatarForge.Client
{
    /// <summary>Per-call wire settings the client resolves from ClientOptions and CallSettings.</summary>
    public sealed class CallContext
    {
        /// <summary>Time the call may take; null = no deadline.</summary>
        public TimeSpan? Timeout;
        /// <summary>Request metadata (lower-case keys), e.g. ("authorization", "Bearer ...").</summary>
        public IList<KeyValuePair<string, string>> Headers = new List<KeyValuePair<string, string>>();
        /// <summary>A reply message larger than this ends the call with ResourceExhausted.</summary>
        public int MaxReceiveBytes = 64 * 1024 * 1024;
    }

    /// <summary>Unary and server-streaming calls: the shapes gRPC-Web can carry.</summary>
    public interface ICallTransport : IDisposable
    {
        /// <summary>
        /// Sends `request` to `method` ("/avatarforge.v1.AvatarForge/Generate") and hands every
        /// reply message to `onMessage`, in order, as it arrives; `onMessage` returning false
        /// cancels the call. Completes with the call's final status and never throws for an RPC
        /// failure: transport errors are Unavailable, a missed deadline DeadlineExceeded, `ct`
        /// Cancelled. An exception thrown by `onMessage` cancels the call and propagates.
        /// </summary>
        Task<RpcStatus> CallAsync<TResponse>(string method, IMessage request, MessageParser<TResponse> parser,
                                             Func<TResponse, bool> onMessage, CallContext context,
                                             CancellationToken ct) where TResponse : IMessage<TResponse>;

        /// <summary>Whether bidirectional streams (EditSession) can run over this transport.</summary>
        bool SupportsDuplex { get; }
    }
}
