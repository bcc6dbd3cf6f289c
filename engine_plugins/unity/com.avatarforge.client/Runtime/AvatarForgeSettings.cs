// Where the server is and how to reach it: one asset (Assets > Create > AvatarForge > Settings)
// shared by every AvatarForge component. It owns one client, created on first use and disposed
// when the asset unloads; HttpClient pools connections, so sharing it is what you want.
using System;
using AvatarForge.Client;
using UnityEngine;

namespace AvatarForge.Runtime
{
    public enum TransportChoice
    {
        /// <summary>UnityWebRequest on WebGL (the only HTTP stack there), HttpClient elsewhere.</summary>
        Automatic,
        /// <summary>gRPC-Web over System.Net.Http.HttpClient: replies streamed as they arrive.</summary>
        HttpClient,
        /// <summary>gRPC-Web over UnityWebRequest: a reply is parsed once it has fully arrived.</summary>
        UnityWebRequest,
    }

    [CreateAssetMenu(menuName = "AvatarForge/Settings", fileName = "AvatarForgeSettings")]
    public sealed class AvatarForgeSettings : ScriptableObject
    {
        [Tooltip("The server's gRPC-Web door (avatarforge serve --web-address), e.g. http://127.0.0.1:8081")]
        public string address = "http://127.0.0.1:8081";

        [Tooltip("Sent as 'authorization: Bearer <token>'. This asset ships inside the build: keep real " +
                 "secrets out of it; the AVATARFORGE_TOKEN environment variable wins where a platform has one.")]
        public string authToken = "";

        [Tooltip("Model name; empty = the server's default")]
        public string model = "";

        public TransportChoice transport = TransportChoice.Automatic;

        [Tooltip("Limit for one call (Generate, RenderPreview...); 0 = none")]
        [Min(0)] public float unaryDeadlineSeconds = 30;

        [Tooltip("Largest reply accepted. One raw 1024x1024 face is just over 4 MiB, the default of most gRPC clients.")]
        [Min(1)] public int maxReceiveMegabytes = 64;

        AvatarForgeClient client;

        /// <summary>The shared client (created on first use, main thread).</summary>
        public AvatarForgeClient Client
        {
            get
            {
                if (client == null) client = CreateClient();
                return client;
            }
        }

        /// <summary>A new client the caller owns (and disposes), e.g. for an editor check.</summary>
        public AvatarForgeClient CreateClient()
        {
            var options = new ClientOptions
            {
                Address = address,
                AuthToken = Token(),
                Model = model,
                UnaryDeadline = TimeSpan.FromSeconds(unaryDeadlineSeconds),
                MaxReceiveBytes = maxReceiveMegabytes * 1024 * 1024,
            };
            return new AvatarForgeClient(options, CreateTransport());
        }

        public TransportChoice ResolvedTransport
        {
            get
            {
                if (transport != TransportChoice.Automatic) return transport;
                return IsWebGL ? TransportChoice.UnityWebRequest : TransportChoice.HttpClient;
            }
        }

        /// <summary>WebGL has no EditSession (gRPC-Web carries no bidirectional stream) and no sockets.</summary>
        public static bool IsWebGL { get { return Application.platform == RuntimePlatform.WebGLPlayer; } }

        ICallTransport CreateTransport()
        {
            if (ResolvedTransport == TransportChoice.UnityWebRequest) return new UnityWebRequestTransport(address);
            return new GrpcWebChannel(address);
        }

        string Token()
        {
            var fromEnvironment = Environment.GetEnvironmentVariable("AVATARFORGE_TOKEN");
            return string.IsNullOrEmpty(fromEnvironment) ? authToken : fromEnvironment;
        }

        void OnDisable()
        {
            if (client == null) return;
            client.Dispose();
            client = null;
        }
    }
}
