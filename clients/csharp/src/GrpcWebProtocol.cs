// The gRPC-Web wire format (binary mode) as plain functions, shared by every transport that speaks
// it: GrpcWebChannel reads replies a frame at a time from HttpClient, the Unity package's buffered
// transport parses a whole downloaded body (UnityWebRequest on WebGL). One copy of the framing,
// trailer and status rules, so the two cannot drift apart.
using System;
using System.Collections.Generic;
using System.Text;
using Google.Protobuf;

namespace AvatarForge.Client
{
    public static class GrpcWebProtocol
    {
        public const string ContentType = "application/grpc-web+proto";

        /// <summary>The request body: one uncompressed frame (flag 0, big-endian length, message).</summary>
        public static byte[] FrameRequest(IMessage request)
        {
            byte[] body = request.ToByteArray();
            var frame = new byte[5 + body.Length];
            frame[1] = (byte)(body.Length >> 24); frame[2] = (byte)(body.Length >> 16);
            frame[3] = (byte)(body.Length >> 8); frame[4] = (byte)body.Length;
            Buffer.BlockCopy(body, 0, frame, 5, body.Length);
            return frame;
        }

        /// <summary>The headers a call sends besides Content-Type: x-grpc-web, grpc-timeout and the
        /// context's metadata (authorization ...).</summary>
        public static IList<KeyValuePair<string, string>> RequestHeaders(CallContext context)
        {
            var headers = new List<KeyValuePair<string, string>> { new KeyValuePair<string, string>("x-grpc-web", "1") };
            if (context.Timeout.HasValue) headers.Add(new KeyValuePair<string, string>("grpc-timeout", GrpcTimeout(context.Timeout.Value)));
            headers.AddRange(context.Headers);
            return headers;
        }

        /// <summary>grpc-timeout: at most 8 digits and a unit; milliseconds while they fit.</summary>
        public static string GrpcTimeout(TimeSpan t)
        {
            long ms = Math.Max(1, (long)Math.Ceiling(t.TotalMilliseconds));
            return ms < 100000000 ? ms + "m" : Math.Min((ms + 999) / 1000, 99999999) + "S";
        }

        /// <summary>A frame header's payload length.</summary>
        public static uint FrameLength(byte[] head, int offset)
        {
            return (uint)(head[offset + 1] << 24 | head[offset + 2] << 16 | head[offset + 3] << 8 | head[offset + 4]);
        }

        public static bool IsTrailerFrame(byte flags) { return (flags & 0x80) != 0; }
        public static bool IsCompressedFrame(byte flags) { return (flags & 0x01) != 0; }

        public static RpcStatus OverLimit(uint length, int limit)
        {
            return new RpcStatus(RpcCode.ResourceExhausted, string.Format(
                "reply message of {0} bytes is over this client's receive limit of {1} (ClientOptions.MaxReceiveBytes)",
                length, limit));
        }

        /// <summary>The trailer frame's "key: value\r\n" lines, keys lower-cased.</summary>
        public static Dictionary<string, string> ParseTrailers(byte[] payload)
        {
            var trailers = new Dictionary<string, string>();
            foreach (var line in Encoding.ASCII.GetString(payload).Split(new[] { "\r\n" }, StringSplitOptions.RemoveEmptyEntries))
            {
                int colon = line.IndexOf(':');
                if (colon > 0) trailers[line.Substring(0, colon).Trim().ToLowerInvariant()] = line.Substring(colon + 1).Trim();
            }
            return trailers;
        }

        /// <summary>grpc-status, grpc-message (percent-encoded UTF-8) and grpc-status-details-bin
        /// -> a status; null when there is no grpc-status. Keys must be lower-case.</summary>
        public static RpcStatus StatusFrom(IDictionary<string, string> fields)
        {
            string code, message, details;
            int value;
            if (!fields.TryGetValue("grpc-status", out code)) return null;
            if (!int.TryParse(code, out value) || value < 0 || value > 16)
                return new RpcStatus(RpcCode.Unknown, "malformed grpc-status: " + code);
            message = fields.TryGetValue("grpc-message", out message) ? Uri.UnescapeDataString(message) : "";
            var violations = fields.TryGetValue("grpc-status-details-bin", out details) ? StatusDetails.ParseHeader(details) : null;
            return new RpcStatus((RpcCode)value, message, violations);
        }

        /// <summary>The gRPC-Web spec's mapping for a reply that is not HTTP 200 and has no grpc-status.</summary>
        public static RpcCode FromHttp(int status)
        {
            switch (status)
            {
                case 400: return RpcCode.Internal;
                case 401: return RpcCode.Unauthenticated;
                case 403: return RpcCode.PermissionDenied;
                case 404: return RpcCode.Unimplemented;
                case 429: case 502: case 503: case 504: return RpcCode.Unavailable;
                default: return RpcCode.Unknown;
            }
        }
    }
}
