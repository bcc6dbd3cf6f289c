// gRPC-Web (binary) over an HTTP stack that hands over a reply only once it has fully arrived:
// UnityWebRequest, the one HTTP client a WebGL build has (no sockets, so no HttpClient). The HTTP
// part is IHttpPost (UnityWebRequestTransport in Unity, HttpClient in this package's tests); the
// framing, trailers, status, limits and deadline rules are here and in GrpcWebProtocol.
//
// Streaming consequence: a GenerateBatch or Interpolate reply is parsed after its last byte, so
// every item reaches onMessage at the end, all at once, and the whole reply sits in memory. On
// WebGL keep streams short (or use Generate per few faces) and show progress per call.
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Google.Protobuf;

namespace AvatarForge.Client
{
    /// <summary>A finished HTTP exchange. Status 0 = no HTTP reply (connection failed: Error says why).</summary>
    public sealed class HttpPostReply
    {
        public int Status;
        public IDictionary<string, string> Headers = new Dictionary<string, string>();  // lower-case names
        public byte[] Body = new byte[0];
        public string Error = "";
    }

    /// <summary>One HTTP/1.1 POST with the whole reply body read. Cancelling `ct` aborts the request
    /// (the task then ends in OperationCanceledException).</summary>
    public interface IHttpPost : IDisposable
    {
        Task<HttpPostReply> PostAsync(Uri url, IList<KeyValuePair<string, string>> headers, byte[] body, CancellationToken ct);
    }

    public sealed class BufferedGrpcWebTransport : ICallTransport
    {
        // As GrpcWebChannel: the server's grpc-timeout ends the call with its own status; this
        // margin only catches a server that stops answering.
        static readonly TimeSpan Backstop = TimeSpan.FromMilliseconds(500);
        readonly Uri baseUri;
        readonly IHttpPost http;

        /// <param name="address">"http://host:port" of the server's gRPC-Web door; on WebGL the
        /// page's origin must be in the server's --web-cors-origins.</param>
        public BufferedGrpcWebTransport(string address, IHttpPost http)
        {
            if (http == null) throw new ArgumentNullException("http");
            baseUri = new Uri(address.EndsWith("/") ? address : address + "/");
            this.http = http;
        }

        public bool SupportsDuplex { get { return false; } }

        public async Task<RpcStatus> CallAsync<TResponse>(string method, IMessage request, MessageParser<TResponse> parser,
                                                          Func<TResponse, bool> onMessage, CallContext context,
                                                          CancellationToken ct) where TResponse : IMessage<TResponse>
        {
            var headers = new List<KeyValuePair<string, string>> { new KeyValuePair<string, string>("content-type", GrpcWebProtocol.ContentType) };
            headers.AddRange(GrpcWebProtocol.RequestHeaders(context));
            HttpPostReply reply;
            using (var deadline = new CancellationTokenSource())
            using (var call = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token))
            {
                if (context.Timeout.HasValue) deadline.CancelAfter(context.Timeout.Value + Backstop);
                try
                {
                    reply = await http.PostAsync(new Uri(baseUri, method.TrimStart('/')), headers, GrpcWebProtocol.FrameRequest(request), call.Token);
                }
                catch (OperationCanceledException)
                {
                    if (ct.IsCancellationRequested) return new RpcStatus(RpcCode.Cancelled, "cancelled by the caller");
                    if (deadline.IsCancellationRequested) return new RpcStatus(RpcCode.DeadlineExceeded, "deadline exceeded (no answer from the server)");
                    throw;
                }
            }
            if (reply.Status == 0) return new RpcStatus(RpcCode.Unavailable, "connection failed: " + reply.Error);
            try
            {
                return Parse(reply, parser, onMessage, context.MaxReceiveBytes);
            }
            catch (InvalidProtocolBufferException e)
            {
                return new RpcStatus(RpcCode.Internal, "cannot parse the reply: " + e.Message);
            }
        }

        /// <summary>The reply's frames, in order, as GrpcWebChannel reads them from a stream.</summary>
        static RpcStatus Parse<TResponse>(HttpPostReply reply, MessageParser<TResponse> parser, Func<TResponse, bool> onMessage,
                                          int maxReceiveBytes) where TResponse : IMessage<TResponse>
        {
            var headerStatus = GrpcWebProtocol.StatusFrom(reply.Headers);
            if (reply.Status != 200)
                return headerStatus ?? new RpcStatus(GrpcWebProtocol.FromHttp(reply.Status), "HTTP " + reply.Status + " from the gRPC-Web door");
            if (headerStatus != null) return headerStatus;  // trailers-only
            string type;
            if (!reply.Headers.TryGetValue("content-type", out type) || !type.StartsWith("application/grpc-web", StringComparison.OrdinalIgnoreCase))
                return new RpcStatus(RpcCode.Unknown, "not a gRPC-Web reply: content-type " + type);

            var body = reply.Body;
            int at = 0;
            while (at < body.Length)
            {
                if (body.Length - at < 5) return new RpcStatus(RpcCode.Unavailable, "the reply ended inside a frame header");
                uint length = GrpcWebProtocol.FrameLength(body, at);
                byte flags = body[at];
                if (length > maxReceiveBytes) return GrpcWebProtocol.OverLimit(length, maxReceiveBytes);
                if (body.Length - at - 5 < length) return new RpcStatus(RpcCode.Unavailable, "the reply ended inside a frame");
                var payload = new byte[length];
                Buffer.BlockCopy(body, at + 5, payload, 0, (int)length);
                at += 5 + (int)length;
                if (GrpcWebProtocol.IsTrailerFrame(flags))
                    return GrpcWebProtocol.StatusFrom(GrpcWebProtocol.ParseTrailers(payload)) ?? new RpcStatus(RpcCode.Internal, "trailers without grpc-status");
                if (GrpcWebProtocol.IsCompressedFrame(flags)) return new RpcStatus(RpcCode.Internal, "compressed frame, but no compression was offered");
                if (!onMessage(parser.ParseFrom(payload))) return new RpcStatus(RpcCode.Cancelled, "cancelled by the caller");
            }
            return new RpcStatus(RpcCode.Internal, "the reply ended without a status");
        }

        public void Dispose() { http.Dispose(); }
    }
}
