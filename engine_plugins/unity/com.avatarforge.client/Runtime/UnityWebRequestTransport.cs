// gRPC-Web over UnityWebRequest, for WebGL where there are no sockets (so no HttpClient). All the
// protocol is BufferedGrpcWebTransport's (compiled and tested in CI against the real server over
// HttpClient); this file only moves bytes through UnityWebRequest, which must be driven from the
// main thread: requests are started there, and a cancel or deadline aborts there.
//
// UnityWebRequest hands over the body when it is complete, so streamed replies (GenerateBatch,
// Interpolate) arrive all at once at the end. In the browser the server must allow the page's
// origin (avatarforge serve --web-cors-origins https://your.game.example); it already exposes
// grpc-status and grpc-message, without which errors would read as Unknown.
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using AvatarForge.Client;
using Google.Protobuf;
using UnityEngine.Networking;

namespace AvatarForge.Runtime
{
    public sealed class UnityWebRequestTransport : ICallTransport
    {
        readonly BufferedGrpcWebTransport inner;

        /// <summary>Create on the main thread (it remembers Unity's SynchronizationContext).</summary>
        public UnityWebRequestTransport(string address)
        {
            inner = new BufferedGrpcWebTransport(address, new UnityWebRequestPost(SynchronizationContext.Current));
        }

        public bool SupportsDuplex { get { return false; } }

        public Task<RpcStatus> CallAsync<TResponse>(string method, IMessage request, MessageParser<TResponse> parser,
                                                    Func<TResponse, bool> onMessage, CallContext context,
                                                    CancellationToken ct) where TResponse : IMessage<TResponse>
        {
            return inner.CallAsync(method, request, parser, onMessage, context, ct);
        }

        public void Dispose() { inner.Dispose(); }
    }

    sealed class UnityWebRequestPost : IHttpPost
    {
        readonly SynchronizationContext main;

        public UnityWebRequestPost(SynchronizationContext main) { this.main = main; }

        public Task<HttpPostReply> PostAsync(Uri url, IList<KeyValuePair<string, string>> headers, byte[] body, CancellationToken ct)
        {
            var done = new TaskCompletionSource<HttpPostReply>();
            OnMain(() => Start(url, headers, body, ct, done));
            return done.Task;
        }

        void Start(Uri url, IList<KeyValuePair<string, string>> headers, byte[] body, CancellationToken ct,
                   TaskCompletionSource<HttpPostReply> done)
        {
            if (ct.IsCancellationRequested) { done.TrySetCanceled(); return; }
            var request = new UnityWebRequest(url, UnityWebRequest.kHttpVerbPOST)
            {
                uploadHandler = new UploadHandlerRaw(body),
                downloadHandler = new DownloadHandlerBuffer(),
            };
            foreach (var h in headers) request.SetRequestHeader(h.Key, h.Value);
            bool finished = false;
            var cancel = ct.Register(() =>
            {
                done.TrySetCanceled();
                OnMain(() => { if (!finished) request.Abort(); });
            });
            request.SendWebRequest().completed += _ =>
            {
                finished = true;
                cancel.Dispose();
                var reply = new HttpPostReply
                {
                    Status = request.result == UnityWebRequest.Result.ConnectionError ? 0 : (int)request.responseCode,
                    Error = request.error ?? "",
                    Body = request.downloadHandler.data ?? new byte[0],
                };
                var received = request.GetResponseHeaders();
                if (received != null)
                    foreach (var h in received) reply.Headers[h.Key.ToLowerInvariant()] = h.Value;
                request.Dispose();
                done.TrySetResult(reply);
            };
        }

        void OnMain(Action action)
        {
            if (main == null || SynchronizationContext.Current == main) action();
            else main.Post(_ => action(), null);
        }

        public void Dispose() { }
    }
}
