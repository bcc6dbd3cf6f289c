// Tests of the Unity package's engine-free core (Runtime/Core), against a real server, as a
// plain Mono program like clients/csharp's:
//   AvatarForgeUnityCoreTests.exe http://127.0.0.1:WEBPORT     (run by with_web_server.sh)
// Prints one line per check and "N passed, M failed"; exits 1 when anything failed.
using System;
using System.Threading.Tasks;
using AvatarForge.Client;

namespace AvatarForge.PackageTests
{
    static class Check
    {
        public static int Passed, Failed;

        public static void That(bool ok, string what)
        {
            if (ok) Passed++; else Failed++;
            Console.WriteLine((ok ? "PASS " : "FAIL ") + what);
        }
    }

    static class UnityCoreTestRunner
    {
        static int Main(string[] args)
        {
            if (args.Length != 1)
            {
                Console.Error.WriteLine("usage: AvatarForgeUnityCoreTests.exe http://HOST:WEBPORT");
                return 2;
            }
            try
            {
                Run(args[0]).GetAwaiter().GetResult();
                SchedulerTests.FrameLoop(args[0]);  // on this thread, which plays Unity's main thread
            }
            catch (Exception e)  // a bug in a test, or an exception the code under test should not throw
            {
                Check.That(false, "unexpected exception: " + e);
            }
            Console.WriteLine("{0} passed, {1} failed", Check.Passed, Check.Failed);
            return Check.Failed == 0 ? 0 : 1;
        }

        static async Task Run(string address)
        {
            SliderEditsTests.Run();
            await PixelTests.Run(address);
            await FaceLibraryTests.Run(address);
            await SchedulerTests.Run(address);
            await BufferedTransportTests.Run(address);
        }

        /// <summary>A client over HttpClient gRPC-Web whose calls are counted.</summary>
        public static AvatarForgeClient Client(string address, out CountingTransport counter, ClientOptions options = null)
        {
            options = options ?? new ClientOptions { Address = address };
            counter = new CountingTransport(new GrpcWebChannel(address));
            return new AvatarForgeClient(options, counter);
        }
    }
}
