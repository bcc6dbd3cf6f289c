// Async Blueprint nodes over the C++ core's async calls: each node starts one call, and its
// OnSuccess or OnFailed pin fires once on the game thread. Cancel (inherited) cancels the call
// and fires neither; so do the end of the node's world and of the game instance.
#pragma once

#include <functional>

#include "AvatarForgeTypes.h"
#include "CoreMinimal.h"
#include "Engine/CancellableAsyncAction.h"
#include "avatarforge/client.h"
#include "AvatarForgeAsyncActions.generated.h"

class UAvatarForgeSubsystem;

UCLASS(Abstract)
class AVATARFORGE_API UAvatarForgeAsyncAction : public UCancellableAsyncAction
{
	GENERATED_BODY()

public:
	virtual void Cancel() override;
	const UWorld* GetWorldTracked() const { return World.Get(); }

	UPROPERTY(BlueprintAssignable)
	FAvatarForgeFailed OnFailed;

protected:
	// Finds the game instance's subsystem and keeps this node alive until it finishes.
	void Bind(UObject* WorldContextObject);
	// The client and the texture layout to ask for, or false after OnFailed has fired.
	bool Begin(avatarforge::Client*& OutClient, avatarforge::Output& OutOutput, int32 Size);
	template <class T>
	void Started(avatarforge::AsyncCall<T>& Call) { CancelCall = std::move(Call.cancel); }
	void Fail(const FAvatarForgeStatus& Status);

private:
	TWeakObjectPtr<UAvatarForgeSubsystem> Subsystem;
	TWeakObjectPtr<UWorld> World;
	std::function<void()> CancelCall;
};

UCLASS()
class AVATARFORGE_API UAvatarForgeGenerateFaces : public UAvatarForgeAsyncAction
{
	GENERATED_BODY()

public:
	// Faces for seeds (0 .. 4294967295), in order, as textures; one face may fail alone (its Error).
	// Size 0 = Project Settings' face size. At most the model's MaxFacesPerCall seeds a call.
	UFUNCTION(BlueprintCallable, Category = "AvatarForge", meta = (BlueprintInternalUseOnly = "true", WorldContext = "WorldContextObject"))
	static UAvatarForgeGenerateFaces* GenerateFaces(UObject* WorldContextObject, const TArray<int64>& Seeds, int32 Size = 0);

	// A stored face (its DNA) rendered again, e.g. an NPC loaded from a save game.
	UFUNCTION(BlueprintCallable, Category = "AvatarForge", meta = (BlueprintInternalUseOnly = "true", WorldContext = "WorldContextObject"))
	static UAvatarForgeGenerateFaces* RenderFace(UObject* WorldContextObject, const TArray<uint8>& Dna, int32 Size = 0);

	UPROPERTY(BlueprintAssignable)
	FAvatarForgeFacesReady OnSuccess;

	virtual void Activate() override;

private:
	void Deliver(const avatarforge::Result<std::vector<avatarforge::Face>>& Result);

	// Named apart from the factory's parameters, which become the node's pin names.
	TArray<int64> RequestSeeds;
	TArray<uint8> RequestDna;
	int32 RequestSize = 0;
};

UCLASS()
class AVATARFORGE_API UAvatarForgeRenderPreview : public UAvatarForgeAsyncAction
{
	GENERATED_BODY()

public:
	// One face with slider values (direction name -> strength) and parts (part name -> value, e.g.
	// hair_color -> RED) applied, as a texture and its DNA. The unary twin of an edit session, for
	// one-off edits. TruncationPsi < 0 = the model's default.
	UFUNCTION(BlueprintCallable, Category = "AvatarForge", meta = (BlueprintInternalUseOnly = "true", WorldContext = "WorldContextObject"))
	static UAvatarForgeRenderPreview* RenderPreview(UObject* WorldContextObject, const TArray<uint8>& Dna,
		const TMap<FString, float>& Sliders, const TMap<FString, FString>& Parts, float TruncationPsi = -1.f, int32 Size = 0);

	UPROPERTY(BlueprintAssignable)
	FAvatarForgeImageReady OnSuccess;

	virtual void Activate() override;

private:
	TArray<uint8> RequestDna;
	TMap<FString, float> RequestSliders;
	TMap<FString, FString> RequestParts;
	float RequestTruncationPsi = -1.f;
	int32 RequestSize = 0;
};

UCLASS()
class AVATARFORGE_API UAvatarForgeEncode : public UAvatarForgeAsyncAction
{
	GENERATED_BODY()

public:
	// One to three photos or drawings of a person -> the DNA of a face like them, and that face
	// rendered. A server without the encoder fails with code 12 (UNIMPLEMENTED).
	UFUNCTION(BlueprintCallable, Category = "AvatarForge", meta = (BlueprintInternalUseOnly = "true", WorldContext = "WorldContextObject"))
	static UAvatarForgeEncode* EncodePhotos(UObject* WorldContextObject, const TArray<FAvatarForgePhoto>& Photos, int32 Size = 0);

	UPROPERTY(BlueprintAssignable)
	FAvatarForgeImageReady OnSuccess;

	virtual void Activate() override;

private:
	TArray<FAvatarForgePhoto> RequestPhotos;
	int32 RequestSize = 0;
};

UCLASS()
class AVATARFORGE_API UAvatarForgeGetModel : public UAvatarForgeAsyncAction
{
	GENERATED_BODY()

public:
	// The model's sizes, limits and edit directions: what a creator screen builds its sliders from.
	UFUNCTION(BlueprintCallable, Category = "AvatarForge", meta = (BlueprintInternalUseOnly = "true", WorldContext = "WorldContextObject"))
	static UAvatarForgeGetModel* GetModel(UObject* WorldContextObject);

	UPROPERTY(BlueprintAssignable)
	FAvatarForgeModelReady OnSuccess;

	virtual void Activate() override;
};

UCLASS()
class AVATARFORGE_API UAvatarForgeGetParts : public UAvatarForgeAsyncAction
{
	GENERATED_BODY()

public:
	// The parts seeds' faces are drawn with (exact), e.g. to label NPCs or filter seeds.
	// A model that draws no parts (GetModel's Parts is empty) fails with code 3 (INVALID_ARGUMENT).
	UFUNCTION(BlueprintCallable, Category = "AvatarForge", meta = (BlueprintInternalUseOnly = "true", WorldContext = "WorldContextObject"))
	static UAvatarForgeGetParts* GetSeedParts(UObject* WorldContextObject, const TArray<int64>& Seeds);

	// A stored face's parts, to set a creator's dropdowns when it opens the face: exact for a
	// seed's face whose only edits are set parts, the classifier's reading otherwise.
	UFUNCTION(BlueprintCallable, Category = "AvatarForge", meta = (BlueprintInternalUseOnly = "true", WorldContext = "WorldContextObject"))
	static UAvatarForgeGetParts* GetFaceParts(UObject* WorldContextObject, const TArray<uint8>& Dna);

	UPROPERTY(BlueprintAssignable)
	FAvatarForgePartsReady OnSuccess;

	virtual void Activate() override;

private:
	TArray<int64> RequestSeeds;
	TArray<uint8> RequestDna;
};
