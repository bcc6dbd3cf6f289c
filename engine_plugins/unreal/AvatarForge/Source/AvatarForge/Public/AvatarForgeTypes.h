// Blueprint-facing value types. Integers are int32/int64 and bytes TArray<uint8>: Blueprint has no
// uint32/uint64 (CI's plugin check fails on one in a UPROPERTY or UFUNCTION signature).
#pragma once

#include "CoreMinimal.h"
#include "AvatarForgeTypes.generated.h"

class UTexture2D;

// The outcome of a call, as the server or the client core reported it.
USTRUCT(BlueprintType)
struct AVATARFORGE_API FAvatarForgeStatus
{
	GENERATED_BODY()

	// A gRPC status code: 0 OK, 1 CANCELLED, 3 INVALID_ARGUMENT, 4 DEADLINE_EXCEEDED, 5 NOT_FOUND,
	// 8 RESOURCE_EXHAUSTED, 12 UNIMPLEMENTED, 14 UNAVAILABLE (server not reachable).
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	int32 Code = 0;

	// Written for a developer: says what to fix.
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	FString Message;

	// INVALID_ARGUMENT: the request field at fault (e.g. "edits[1].strength"), so a UI can mark the
	// slider; empty when the server named none.
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	FString Field;

	bool IsOk() const { return Code == 0; }
};

// One generated face, or why this one item failed while the rest of the call went on.
USTRUCT(BlueprintType)
struct AVATARFORGE_API FAvatarForgeFace
{
	GENERATED_BODY()

	// Transient PF_B8G8R8A8 texture, sRGB; null when Error is set.
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	TObjectPtr<UTexture2D> Texture = nullptr;

	// The face's identity: save it (SaveGame, a file) and pass it back to re-render or edit the face.
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	TArray<uint8> Dna;

	// The seed it came from; -1 when it came from DNA.
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	int64 Seed = -1;

	// Position in the request.
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	int64 Index = 0;

	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	FAvatarForgeStatus Error;
};

// A named edit direction of the model: one slider of a character creator.
USTRUCT(BlueprintType)
struct AVATARFORGE_API FAvatarForgeDirection
{
	GENERATED_BODY()

	// The name SetSlider takes ("smile", or "sefa/0" for an unsupervised component).
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	FString Name;

	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	FString Description;

	// The slider's range and its suggested value.
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	float Min = 0.f;

	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	float Max = 0.f;

	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	float Default = 0.f;
};

// A part of the faces the model draws (hair colour, top, accessory ...): one dropdown of a
// character creator.
USTRUCT(BlueprintType)
struct AVATARFORGE_API FAvatarForgePart
{
	GENERATED_BODY()

	// The name SetPart and RenderPreview's Parts take, e.g. "hair_color".
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	FString Name;

	// The dropdown's entries, e.g. "AUBURN", "BLACK", ...
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	TArray<FString> Values;

	// How often the classifier reads this part right (0..1): how far a non-exact GetParts reading
	// of it can be trusted; -1 when the server sent none.
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	float ClassifierAccuracy = -1.f;
};

// One part of a face as GetParts read it.
USTRUCT(BlueprintType)
struct AVATARFORGE_API FAvatarForgeReadPart
{
	GENERATED_BODY()

	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	FString Part;

	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	FString Value;

	// 1 when exact; the classifier's probability of Value otherwise.
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	float Confidence = 0.f;
};

// A face's parts: what its dropdowns show when a creator opens it.
USTRUCT(BlueprintType)
struct AVATARFORGE_API FAvatarForgeFaceParts
{
	GENERATED_BODY()

	// Position in the request: the seeds first, then the DNAs.
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	int64 Index = 0;

	// True for a seed, or a seed's face whose only edits are set parts: the parts it was drawn
	// with. False: the classifier's reading of the render (encoded, mixed or slider-edited faces).
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	bool bExact = false;

	// Every part of the model, in FAvatarForgeModelInfo::Parts' order.
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	TArray<FAvatarForgeReadPart> Parts;
};

USTRUCT(BlueprintType)
struct AVATARFORGE_API FAvatarForgeModelInfo
{
	GENERATED_BODY()

	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	FString Name;

	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	FString Version;

	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	FString Description;

	// Native edge in pixels; SupportedSizes lists the others a call may ask for.
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	int32 Resolution = 0;

	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	TArray<int32> SupportedSizes;

	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	TArray<FAvatarForgeDirection> Directions;

	// The parts and their values (one dropdown each); empty for a model that draws no parts.
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	TArray<FAvatarForgePart> Parts;

	// Faces one GenerateFaces call may ask for.
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	int32 MaxFacesPerCall = 0;
};

UENUM(BlueprintType)
enum class EAvatarForgePhotoFormat : uint8
{
	Png,
	Jpeg,
	Webp
};

// A photo or drawing file for Encode, as read from disk (FFileHelper::LoadFileToArray).
USTRUCT(BlueprintType)
struct AVATARFORGE_API FAvatarForgePhoto
{
	GENERATED_BODY()

	UPROPERTY(BlueprintReadWrite, Category = "AvatarForge")
	TArray<uint8> FileBytes;

	UPROPERTY(BlueprintReadWrite, Category = "AvatarForge")
	EAvatarForgePhotoFormat Format = EAvatarForgePhotoFormat::Png;
};

DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FAvatarForgeFailed, const FAvatarForgeStatus&, Status);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FAvatarForgeTextureEvent, UTexture2D*, Texture);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FAvatarForgeDnaEvent, const TArray<uint8>&, Dna);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FAvatarForgeFacesReady, const TArray<FAvatarForgeFace>&, Faces);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(FAvatarForgeImageReady, UTexture2D*, Texture, const TArray<uint8>&, Dna);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FAvatarForgeModelReady, const FAvatarForgeModelInfo&, Model);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FAvatarForgePartsReady, const TArray<FAvatarForgeFaceParts>&, Faces);
