// gRPC-Web (binary, application/grpc-web+proto) over HttpClient and HTTP/1.1: what Mono, Unity's
// HttpClient and browsers can all speak, against the server's --web-address door.
//
//   request  POST {base}/avatarforge.v1.AvatarForge/{Method}; body = one frame:
//            flag 0x00, big-endian uint32 length, the serialized request
//   reply    HTTP 200, frames: 0x00 data (one per message, read as they arrive), then one 0x80
//            trailer frame ("grpc-status: 0\r\ngrpc-message: ...\r\n"); or "trailers-only":
//            grpc-status in the HTTP headers and no body (other servers and proxies send errors so)
//
// The reply is read with ResponseHeadersRead and a frame at a time, so a GenerateBatch item is
// handed over when it arrives, not when the stream ends (Mono does not buffer such a body).
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Threading;
using System.Threading.Tasks;
using Google.Protobuf;

namespace AvatarForge.Client
{
    public sealed class GrpcWebChannel : ICallTransport
    {
        // The server's own grpc-timeout ends the call with its status; this local margin only
        // catches a server or network that stops answering altogether.
        static readonly TimeSpan Backstop = TimeSpan.FromMilliseconds(500);

        readonly HttpClient http;
        readonly Uri baseUri;

        /// <param name="address">"http://host:port" of the server's gRPC-Web door (--web-address).</param>
        /// <param name="handler">null = HttpClientHandler; pass another to change the HTTP stack
        /// (e.g. a handler over UnityWebRequest on WebGL). The channel owns it.</param>
        public GrpcWebChannel(string address, HttpMessageHandler handler = null)
        {
            baseUri = new Uri(address.EndsWith("/") ? address : address + "/");
            http = new HttpClient(handler ?? new HttpClientHandler()) { Timeout = Timeout.InfiniteTimeSpan };
        }

        public bool SupportsDuplex { get { return false; } }

        public async Task<RpcStatus> CallAsync<TResponse>(string method, IMessage request, MessageParser<TResponse> parser,
                                                          Func<TResponse, bool> onMessage, CallContext context,
                                                          CancellationToken ct) where TResponse : IMessage<TResponse>
        {
            var deadline = new CancellationTokenSource();
            if (context.Timeout.HasValue) deadline.CancelAfter(context.Timeout.Value + Backstop);
            using (deadline)
            using (var call = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token))
            {
                try
                {
                    return await Exchange(method, request, parser, onMessage, context, call.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is OperationCanceledException || e is ObjectDisposedException ||
                                          e is IOException || e is HttpRequestException || e is WebException)
                {
                    // A cancelled read surfaces as any of these, depending on where it was waiting.
                    if (ct.IsCancellationRequested) return new RpcStatus(RpcCode.Cancelled, "cancelled by the caller");
                    if (deadline.IsCancellationRequested) return new RpcStatus(RpcCode.DeadlineExceeded, "deadline exceeded (no answer from the server)");
                    return new RpcStatus(RpcCode.Unavailable, "connection failed: " + Innermost(e).Message);
                }
                catch (InvalidProtocolBufferException e)
                {
                    return new RpcStatus(RpcCode.Internal, "cannot parse the reply: " + e.Message);
                }
            }
        }

        async Task<RpcStatus> Exchange<TResponse>(string method, IMessage request, MessageParser<TResponse> parser,
                                                  Func<TResponse, bool> onMessage, CallContext context,
                                                  CancellationToken token) where TResponse : IMessage<TResponse>
        {
            using (var message = NewRequest(method, request, context))
            using (var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false))
            // A blocked read does not always notice the token; disposing the reply ends it.
            using (token.Register(response.Dispose))
            {
                RpcStatus headerStatus = StatusFrom(response.Headers);
                if (response.StatusCode != HttpStatusCode.OK)
                    return headerStatus ?? new RpcStatus(GrpcWebProtocol.FromHttp((int)response.StatusCode), "HTTP " + (int)response.StatusCode + " from the gRPC-Web door");
                if (headerStatus != null) return headerStatus;  // trailers-only
                var type = response.Content.Headers.ContentType;
                if (type == null || !type.MediaType.StartsWith("application/grpc-web", StringComparison.OrdinalIgnoreCase))
                    return new RpcStatus(RpcCode.Unknown, "not a gRPC-Web reply: content-type " + type);

                var body = await response.Content.ReadAsStreamAsync().ConfigureAwait(false);
                var head = new byte[5];
                while (await ReadExactly(body, head, 5, token).ConfigureAwait(false))
                {
                    uint length = GrpcWebProtocol.FrameLength(head, 0);
                    if (length > context.MaxReceiveBytes) return GrpcWebProtocol.OverLimit(length, context.MaxReceiveBytes);
                    var payload = new byte[length];
                    if (!await ReadExactly(body, payload, (int)length, token).ConfigureAwait(false))
                        return new RpcStatus(RpcCode.Unavailable, "the reply ended inside a frame");
                    if (GrpcWebProtocol.IsTrailerFrame(head[0]))
                        return GrpcWebProtocol.StatusFrom(GrpcWebProtocol.ParseTrailers(payload)) ?? new RpcStatus(RpcCode.Internal, "trailers without grpc-status");
                    if (GrpcWebProtocol.IsCompressedFrame(head[0])) return new RpcStatus(RpcCode.Internal, "compressed frame, but no compression was offered");
                    if (!onMessage(parser.ParseFrom(payload)))
                        return new RpcStatus(RpcCode.Cancelled, "cancelled by the caller");
                }
                return new RpcStatus(RpcCode.Internal, "the reply ended without a status");
            }
        }

        HttpRequestMessage NewRequest(string method, IMessage request, CallContext context)
        {
            var message = new HttpRequestMessage(HttpMethod.Post, new Uri(baseUri, method.TrimStart('/')))
            {
                Version = HttpVersion.Version11,
                Content = new ByteArrayContent(GrpcWebProtocol.FrameRequest(request)),
            };
            message.Content.Headers.ContentType = new MediaTypeHeaderValue(GrpcWebProtocol.ContentType);
            foreach (var h in GrpcWebProtocol.RequestHeaders(context)) message.Headers.TryAddWithoutValidation(h.Key, h.Value);
            return message;
        }

        static async Task<bool> ReadExactly(Stream s, byte[] buffer, int count, CancellationToken token)
        {
            int got = 0;
            while (got < count)
            {
                int n = await s.ReadAsync(buffer, got, count - got, token).ConfigureAwait(false);
                if (n == 0)
                {
                    if (got == 0) return false;  // a clean end between frames
                    throw new IOException("the reply ended inside a frame");
                }
                got += n;
            }
            return true;
        }

        static RpcStatus StatusFrom(HttpResponseHeaders headers)
        {
            return GrpcWebProtocol.StatusFrom(headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => string.Join(",", h.Value)));
        }

        static Exception Innermost(Exception e)
        {
            while (e.InnerException != null) e = e.InnerException;
            return e;
        }

        public void Dispose() { http.Dispose(); }
    }
}
