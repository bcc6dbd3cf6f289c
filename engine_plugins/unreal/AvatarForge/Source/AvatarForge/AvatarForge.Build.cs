// The runtime module: the UObject adapter (Public/, Private/) plus the engine-agnostic C++ client
// core and its protobuf/gRPC code in Core/, which package-unreal-plugin.sh copies in from
// clients/cpp and generates from proto/. UBT compiles every .cpp and .cc under this folder.
using System.IO;
using UnrealBuildTool;

public class AvatarForge : ModuleRules
{
	public AvatarForge(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;
		CppStandard = CppStandardVersion.Cpp17;

		string CoreDir = Path.Combine(ModuleDirectory, "Core");
		if (!File.Exists(Path.Combine(CoreDir, "MANIFEST.txt")))
		{
			throw new BuildException("AvatarForge: Source/AvatarForge/Core is missing. Install the plugin folder made by " +
				"engine_plugins/unreal/package-unreal-plugin.sh, not the one in the repository (see README.md).");
		}
		// avatarforge/client.h and friends: plain C++ with no gRPC or protobuf types, so game modules
		// that depend on this one can call the core directly.
		PublicIncludePaths.Add(Path.Combine(CoreDir, "include"));
		// The core's private headers and the generated avatarforge.pb.h / avatarforge.grpc.pb.h.
		PrivateIncludePaths.Add(Path.Combine(CoreDir, "src"));
		PrivateIncludePaths.Add(Path.Combine(CoreDir, "gen"));

		PublicDependencyModuleNames.AddRange(new string[] { "Core", "CoreUObject", "Engine", "DeveloperSettings" });
		// Prebuilt gRPC, protobuf and abseil for the target platform (Source/ThirdParty/AvatarForgeGrpc).
		PrivateDependencyModuleNames.Add("AvatarForgeGrpc");
		// gRPC is built against the engine's own OpenSSL and zlib, so the game carries one copy of each.
		AddEngineThirdPartyPrivateStaticDependencies(Target, "OpenSSL", "zlib");

		// The core reports errors as values and never throws; gRPC and protobuf build without exceptions.
		bEnableExceptions = false;
		// protobuf's headers test macros with #if that are not always defined.
#if UE_5_3_OR_LATER
		UndefinedIdentifierWarningLevel = WarningLevel.Off;
#else
		bEnableUndefinedIdentifierWarnings = false;
#endif
	}
}
