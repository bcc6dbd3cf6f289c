// One AvatarForge client per game instance.
//
// A UGameInstanceSubsystem, not a UEngineSubsystem: its Deinitialize runs when play-in-editor
// stops (and at game exit), which is exactly when calls in flight must be cancelled and drained
// before the objects they call back into are freed (TurboLink's PIE-stop crash, beamable's "PIE
// guard"). An engine subsystem would outlive each PIE session and deliver a finished session's
// replies into the next one. The cost: it exists only while a game instance does, so editor
// utilities outside PIE use avatarforge::Client directly.
#pragma once

#include <memory>

#include "CoreMinimal.h"
#include "Subsystems/GameInstanceSubsystem.h"
#include "avatarforge/client.h"
#include "AvatarForgeSubsystem.generated.h"

class UAvatarForgeAsyncAction;
class UAvatarForgeEditSession;

UCLASS()
class AVATARFORGE_API UAvatarForgeSubsystem : public UGameInstanceSubsystem
{
	GENERATED_BODY()

public:
	virtual void Initialize(FSubsystemCollectionBase& Collection) override;
	// Closes every edit session, cancels every call and waits (Settings' ShutdownWaitSeconds) until
	// no callback of the client runs or can start, then destroys the client.
	virtual void Deinitialize() override;

	static UAvatarForgeSubsystem* Get(const UObject* WorldContextObject);

	// The C++ core, for game code that needs calls the nodes do not cover (GenerateBatch for a
	// build step, Mix, Mutate, Interpolate). Its callbacks run on gRPC threads: see README.md.
	// Null once Deinitialize has begun.
	avatarforge::Client* GetClient() const { return Client.get(); }

	// Opens a character-creator session on a face. Bind the session's events, then move sliders.
	UFUNCTION(BlueprintCallable, Category = "AvatarForge", meta = (WorldContext = "WorldContextObject"))
	UAvatarForgeEditSession* StartEditSession(UObject* WorldContextObject, const TArray<uint8>& Dna, int32 Size = 0);

	// Raw BGRA8 rows, top row first, at Size (0 = Settings' FaceSize): what a PF_B8G8R8A8 texture holds.
	avatarforge::Output TextureOutput(int32 Size) const;

	// Async nodes and sessions register here so that Deinitialize, or the end of their world
	// (level change, PIE stop), cancels them before they can call back into freed objects.
	void Track(UAvatarForgeAsyncAction* Action);
	void Untrack(UAvatarForgeEditSession* Session);

private:
	void OnWorldCleanup(UWorld* World, bool bSessionEnded, bool bCleanupResources);
	void CancelFor(const UWorld* World);

	std::unique_ptr<avatarforge::Client> Client;
	float ShutdownWaitSeconds = 2.f;
	int32 FaceSize = 0;
	FDelegateHandle WorldCleanupHandle;

	TArray<TWeakObjectPtr<UAvatarForgeAsyncAction>> Actions;
	// Held strongly: a session lives until Close, even if Blueprint keeps no reference to it.
	UPROPERTY()
	TArray<TObjectPtr<UAvatarForgeEditSession>> Sessions;
};
