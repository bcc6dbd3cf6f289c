// Prebuilt gRPC C++, protobuf and abseil static libraries, one folder per platform, supplied by the
// studio (README.md, "gRPC for each platform"):
//
//   <Platform>/include/                     grpcpp/, google/protobuf/, absl/ headers
//   <Platform>/lib/Release/*.lib|*.a        every static library of the install
//   <Platform>/lib/Debug/*.lib|*.a          optional; used by Debug and DebugGame targets
//   Android/<abi>/include, Android/<abi>/lib/...   per ABI: arm64-v8a, x86_64
//   <lib dir>/link-order.txt                optional: library file names in link order, one a line
//
// Without link-order.txt every static library in the folder is linked, sorted by name. The
// protobuf library must be the same version as the protoc that generated Core/gen.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using UnrealBuildTool;

public class AvatarForgeGrpc : ModuleRules
{
	public AvatarForgeGrpc(ReadOnlyTargetRules Target) : base(Target)
	{
		Type = ModuleType.External;

		string Platform = Target.Platform.ToString();
		bool Debug = Target.Configuration == UnrealTargetConfiguration.Debug ||
			Target.Configuration == UnrealTargetConfiguration.DebugGame;
		string Extension = Target.Platform == UnrealTargetPlatform.Win64 ? ".lib" : ".a";

		List<string> Roots = new List<string>();
		if (Target.Platform == UnrealTargetPlatform.Android)
		{
			Roots.Add(Path.Combine(ModuleDirectory, "Android", "arm64-v8a"));
			Roots.Add(Path.Combine(ModuleDirectory, "Android", "x86_64"));
		}
		else
		{
			Roots.Add(Path.Combine(ModuleDirectory, Platform));
		}

		foreach (string Root in Roots.Where(Directory.Exists))
		{
			// System include path: warnings in gRPC's own headers are not this plugin's to fix.
			PublicSystemIncludePaths.Add(Path.Combine(Root, "include"));
			string LibDir = Path.Combine(Root, "lib", "Release");
			if (Debug && Directory.Exists(Path.Combine(Root, "lib", "Debug")))
			{
				LibDir = Path.Combine(Root, "lib", "Debug");
			}
			PublicAdditionalLibraries.AddRange(Libraries(LibDir, Extension));
		}

		if (PublicAdditionalLibraries.Count == 0)
		{
			throw new BuildException("AvatarForgeGrpc: no gRPC libraries for " + Platform + " under " + ModuleDirectory +
				". Build gRPC for this platform and place it as README.md (\"gRPC for each platform\") describes.");
		}

		if (Target.Platform == UnrealTargetPlatform.Win64)
		{
			// gRPC's Windows transport is Winsock.
			PublicSystemLibraries.Add("ws2_32.lib");
		}
	}

	private static IEnumerable<string> Libraries(string LibDir, string Extension)
	{
		if (!Directory.Exists(LibDir))
		{
			return Enumerable.Empty<string>();
		}
		string Order = Path.Combine(LibDir, "link-order.txt");
		if (File.Exists(Order))
		{
			return File.ReadAllLines(Order)
				.Select(Line => Line.Trim())
				.Where(Line => Line.Length > 0 && !Line.StartsWith("#"))
				.Select(Name => Path.Combine(LibDir, Name));
		}
		return Directory.GetFiles(LibDir, "*" + Extension).OrderBy(File => File, StringComparer.Ordinal);
	}
}
