// Project Settings > Plugins > AvatarForge, saved to Config/DefaultGame.ini. Read once, when the
// game instance starts its AvatarForge subsystem.
#pragma once

#include "CoreMinimal.h"
#include "Engine/DeveloperSettings.h"
#include "AvatarForgeSettings.generated.h"

UCLASS(Config = Game, DefaultConfig, meta = (DisplayName = "AvatarForge"))
class AVATARFORGE_API UAvatarForgeSettings : public UDeveloperSettings
{
	GENERATED_BODY()

public:
	UAvatarForgeSettings() { CategoryName = TEXT("Plugins"); }

	// host:port of the server's gRPC port (not its gRPC-Web port, which is for browsers and WebGL).
	UPROPERTY(Config, EditAnywhere, Category = "Server")
	FString Address = TEXT("127.0.0.1:50051");

	// Sent as "authorization: Bearer <token>" on every call when not empty. This file ships inside
	// the game's pak: for a real secret pass -AvatarForgeToken=<token> on the command line instead,
	// which wins over this value.
	UPROPERTY(Config, EditAnywhere, Category = "Server")
	FString AuthToken;

	// TLS to the server (started with --tls-cert/--tls-key). Certificate files are PEM, read at
	// start from these paths (relative to the project directory); an empty CA path trusts the
	// system's roots. The client pair is for a server started with --tls-client-ca (mutual TLS).
	UPROPERTY(Config, EditAnywhere, Category = "Server")
	bool bUseTls = false;

	UPROPERTY(Config, EditAnywhere, Category = "Server", meta = (EditCondition = "bUseTls"))
	FString TlsRootCertsPath;

	UPROPERTY(Config, EditAnywhere, Category = "Server", meta = (EditCondition = "bUseTls"))
	FString TlsClientCertPath;

	UPROPERTY(Config, EditAnywhere, Category = "Server", meta = (EditCondition = "bUseTls"))
	FString TlsClientKeyPath;

	// The model calls use; empty = the server's default.
	UPROPERTY(Config, EditAnywhere, Category = "Server")
	FString Model;

	// Longest a GenerateFaces, RenderPreview, Encode or GetModel call may take; 0 = no limit.
	UPROPERTY(Config, EditAnywhere, Category = "Calls", meta = (ClampMin = "0", Units = "ms"))
	int32 UnaryDeadlineMs = 30000;

	// Longest an edit session may stay open; 0 = no limit (a player may sit in the creator for long).
	UPROPERTY(Config, EditAnywhere, Category = "Calls", meta = (ClampMin = "0", Units = "ms"))
	int32 StreamDeadlineMs = 0;

	// Largest reply accepted. One raw 1024x1024 face is just over gRPC's 4 MiB default.
	UPROPERTY(Config, EditAnywhere, Category = "Calls", meta = (ClampMin = "4", ClampMax = "2047"))
	int32 MaxReceiveMegabytes = 64;

	// HTTP/2 ping interval while a call is open, so a dead connection shows in seconds; 0 = off.
	// The client never pings an idle connection and sends at most 2 pings between data frames,
	// which is what a Python (grpcio) server tolerates before answering "too_many_pings".
	UPROPERTY(Config, EditAnywhere, Category = "Calls", meta = (ClampMin = "0", Units = "s"))
	int32 KeepaliveSeconds = 30;

	// Edge of the textures the nodes ask for when their Size is 0; 0 = the model's native size.
	UPROPERTY(Config, EditAnywhere, Category = "Faces", meta = (ClampMin = "0"))
	int32 FaceSize = 0;

	// When play stops, how long to wait for cancelled calls to finish calling back.
	UPROPERTY(Config, EditAnywhere, Category = "Calls", meta = (ClampMin = "0", Units = "s"))
	float ShutdownWaitSeconds = 2.f;
};
