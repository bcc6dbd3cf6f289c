// IHttpPost over HttpClient reading the whole body before returning (ResponseContentRead), the
// way UnityWebRequest's DownloadHandlerBuffer hands a reply over: BufferedGrpcWebTransport is
// tested here through the same contract the Unity transport fulfils.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Threading;
using System.Threading.Tasks;
using AvatarForge.Client;

namespace AvatarForge.PackageTests
{
    sealed class HttpClientPost : IHttpPost
    {
        readonly HttpClient http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        public int Posts;
        public IList<KeyValuePair<string, string>> LastHeaders;

        public async Task<HttpPostReply> PostAsync(Uri url, IList<KeyValuePair<string, string>> headers, byte[] body, CancellationToken ct)
        {
            Interlocked.Increment(ref Posts);
            LastHeaders = headers;
            var message = new HttpRequestMessage(HttpMethod.Post, url) { Version = HttpVersion.Version11, Content = new ByteArrayContent(body) };
            foreach (var h in headers)
            {
                if (h.Key == "content-type") message.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(h.Value);
                else message.Headers.TryAddWithoutValidation(h.Key, h.Value);
            }
            try
            {
                using (var response = await http.SendAsync(message, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false))
                {
                    var reply = new HttpPostReply { Status = (int)response.StatusCode };
                    foreach (var h in response.Headers.Concat(response.Content.Headers))
                        reply.Headers[h.Key.ToLowerInvariant()] = string.Join(",", h.Value);
                    reply.Body = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
                    return reply;
                }
            }
            catch (HttpRequestException e)
            {
                if (ct.IsCancellationRequested) throw new OperationCanceledException(ct);
                return new HttpPostReply { Status = 0, Error = e.Message };
            }
        }

        public void Dispose() { http.Dispose(); }
    }
}
