#include "AvatarForgeSubsystem.h"

#include "AvatarForgeAsyncActions.h"
#include "AvatarForgeConvert.h"
#include "AvatarForgeEditSession.h"
#include "AvatarForgeSettings.h"
#include "Engine/Engine.h"
#include "Engine/GameInstance.h"
#include "Engine/World.h"
#include "Misc/CommandLine.h"
#include "Misc/FileHelper.h"
#include "Misc/Paths.h"
#include "Misc/Parse.h"

// A PEM file's text ("" when the path is empty); a path that does not read is logged, and the
// TLS handshake then fails with UNAVAILABLE on the first call, where OnFailed reports it.
static std::string ReadPem(const FString& Path)
{
	FString Text;
	if (!Path.IsEmpty() && !FFileHelper::LoadFileToString(Text, *FPaths::Combine(FPaths::ProjectDir(), Path)))
	{
		UE_LOG(LogAvatarForge, Error, TEXT("AvatarForge: cannot read TLS file %s"), *Path);
	}
	return AvatarForge::ToStd(Text);
}

void UAvatarForgeSubsystem::Initialize(FSubsystemCollectionBase& Collection)
{
	Super::Initialize(Collection);
	const UAvatarForgeSettings* Settings = GetDefault<UAvatarForgeSettings>();
	avatarforge::ClientOptions Options;
	Options.address = AvatarForge::ToStd(Settings->Address);
	FString Token = Settings->AuthToken;
	FParse::Value(FCommandLine::Get(), TEXT("AvatarForgeToken="), Token);
	Options.auth_token = AvatarForge::ToStd(Token);
	if (Settings->bUseTls)
	{
		Options.tls = true;
		Options.tls_root_certs_pem = ReadPem(Settings->TlsRootCertsPath);
		Options.tls_client_cert_pem = ReadPem(Settings->TlsClientCertPath);
		Options.tls_client_key_pem = ReadPem(Settings->TlsClientKeyPath);
	}
	Options.model = AvatarForge::ToStd(Settings->Model);
	Options.unary_deadline = std::chrono::milliseconds(Settings->UnaryDeadlineMs);
	Options.stream_deadline = std::chrono::milliseconds(Settings->StreamDeadlineMs);
	Options.max_receive_bytes = Settings->MaxReceiveMegabytes * 1024 * 1024;
	Options.keepalive_time = std::chrono::seconds(Settings->KeepaliveSeconds);
	ShutdownWaitSeconds = Settings->ShutdownWaitSeconds;
	FaceSize = Settings->FaceSize;
	// Creating a client does not connect: the first call does, so a missing server shows up as
	// UNAVAILABLE on that call's OnFailed, not here.
	Client = std::make_unique<avatarforge::Client>(Options);
	WorldCleanupHandle = FWorldDelegates::OnWorldCleanup.AddUObject(this, &UAvatarForgeSubsystem::OnWorldCleanup);
}

void UAvatarForgeSubsystem::Deinitialize()
{
	FWorldDelegates::OnWorldCleanup.Remove(WorldCleanupHandle);
	CancelFor(nullptr);
	if (Client)
	{
		// Runs on the game thread, which no callback waits on: they only post to it.
		const auto Wait = std::chrono::milliseconds(static_cast<int64>(ShutdownWaitSeconds * 1000));
		if (!Client->Shutdown(Wait))
		{
			UE_LOG(LogAvatarForge, Warning, TEXT("AvatarForge: calls still calling back after %.1f s at shutdown"),
				ShutdownWaitSeconds);
		}
		Client.reset();
	}
	Super::Deinitialize();
}

UAvatarForgeSubsystem* UAvatarForgeSubsystem::Get(const UObject* WorldContextObject)
{
	UWorld* World = GEngine ? GEngine->GetWorldFromContextObject(WorldContextObject, EGetWorldErrorMode::LogAndReturnNull) : nullptr;
	UGameInstance* GameInstance = World ? World->GetGameInstance() : nullptr;
	return GameInstance ? GameInstance->GetSubsystem<UAvatarForgeSubsystem>() : nullptr;
}

UAvatarForgeEditSession* UAvatarForgeSubsystem::StartEditSession(UObject* WorldContextObject, const TArray<uint8>& Dna, int32 Size)
{
	UAvatarForgeEditSession* Session = NewObject<UAvatarForgeEditSession>(this);
	UWorld* World = GEngine ? GEngine->GetWorldFromContextObject(WorldContextObject, EGetWorldErrorMode::ReturnNull) : nullptr;
	if (Client)
	{
		Sessions.Add(Session);
	}
	Session->Open(this, Client.get(), Dna, TextureOutput(Size), World);
	return Session;
}

avatarforge::Output UAvatarForgeSubsystem::TextureOutput(int32 Size) const
{
	avatarforge::Output Output;
	Output.format = avatarforge::ImageFormat::RawBgra8;
	Output.bottom_up = false;
	Output.size = Size > 0 ? Size : FaceSize;
	return Output;
}

void UAvatarForgeSubsystem::Track(UAvatarForgeAsyncAction* Action)
{
	Actions.RemoveAll([](const TWeakObjectPtr<UAvatarForgeAsyncAction>& A) { return !A.IsValid() || !A->IsActive(); });
	Actions.Add(Action);
}

void UAvatarForgeSubsystem::Untrack(UAvatarForgeEditSession* Session)
{
	Sessions.Remove(Session);
}

void UAvatarForgeSubsystem::OnWorldCleanup(UWorld* World, bool bSessionEnded, bool bCleanupResources)
{
	CancelFor(World);
}

// World null: everything. Cancelled actions stop broadcasting at once; closed sessions cancel
// their stream and join its threads before returning.
void UAvatarForgeSubsystem::CancelFor(const UWorld* World)
{
	for (const TWeakObjectPtr<UAvatarForgeAsyncAction>& Action : TArray<TWeakObjectPtr<UAvatarForgeAsyncAction>>(Actions))
	{
		if (Action.IsValid() && (World == nullptr || Action->GetWorldTracked() == World))
		{
			Action->Cancel();
		}
	}
	for (UAvatarForgeEditSession* Session : TArray<TObjectPtr<UAvatarForgeEditSession>>(Sessions))
	{
		if (Session && (World == nullptr || Session->GetWorldTracked() == World))
		{
			Session->Close();
		}
	}
}
