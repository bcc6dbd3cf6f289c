// The C# client's tests, as a plain Mono program (no test framework: Debian packages none for
// Mono that mcs 7.2 builds against, and a dozen lines do).
//   AvatarForgeClientTests.exe live http://127.0.0.1:WEBPORT   against a running server (with_web_server.sh)
//   AvatarForgeClientTests.exe golden DIR                      message bytes both ways with Python (golden_bytes.py)
// Prints one line per check and "N passed, M failed"; exits 1 when anything failed.
using System;
using System.Threading.Tasks;

namespace AvatarForge.Client.Tests
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

    static class TestRunner
    {
        static int Main(string[] args)
        {
            if (args.Length != 2 || (args[0] != "live" && args[0] != "golden"))
            {
                Console.Error.WriteLine("usage: AvatarForgeClientTests.exe live http://HOST:PORT | golden DIR");
                return 2;
            }
            try
            {
                if (args[0] == "golden") GoldenMessages.Run(args[1]);
                else RunLive(args[1]).GetAwaiter().GetResult();
            }
            catch (Exception e)  // a bug in a test or an exception the client should not have thrown
            {
                Check.That(false, "unexpected exception: " + e);
            }
            Console.WriteLine("{0} passed, {1} failed", Check.Passed, Check.Failed);
            return Check.Failed == 0 ? 0 : 1;
        }

        static async Task RunLive(string address)
        {
            var options = new ClientOptions { Address = address, AuthToken = "test-token" };
            using (var af = new AvatarForgeClient(options))
            {
                var faces = await UnaryTests.Run(af, address);
                await StreamTests.Run(af, address, faces);
                await ErrorTests.Run(af, address);
                await PartsTests.Run(af, address);
                await WireTests.Run();
            }
        }
    }
}
