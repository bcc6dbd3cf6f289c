#include "AvatarForgeAsyncActions.h"

#include "AvatarForgeConvert.h"
#include "AvatarForgeSubsystem.h"
#include "Engine/Engine.h"
#include "Engine/World.h"
#include "avatarforge/sliders.h"

using AvatarForge::OnGameThread;
using AvatarForge::ToStd;
using AvatarForge::ToUnreal;

// ---------------------------------------------------------------- base

void UAvatarForgeAsyncAction::Bind(UObject* WorldContextObject)
{
	Subsystem = UAvatarForgeSubsystem::Get(WorldContextObject);
	World = GEngine ? GEngine->GetWorldFromContextObject(WorldContextObject, EGetWorldErrorMode::ReturnNull) : nullptr;
	RegisterWithGameInstance(WorldContextObject);
}

bool UAvatarForgeAsyncAction::Begin(avatarforge::Client*& OutClient, avatarforge::Output& OutOutput, int32 Size)
{
	UAvatarForgeSubsystem* Forge = Subsystem.Get();
	OutClient = Forge ? Forge->GetClient() : nullptr;
	if (!OutClient)
	{
		Fail(AvatarForge::Unavailable(TEXT("no AvatarForge subsystem: call from a world with a game instance")));
		return false;
	}
	Forge->Track(this);
	OutOutput = Forge->TextureOutput(Size);
	return true;
}

void UAvatarForgeAsyncAction::Cancel()
{
	if (CancelCall)
	{
		CancelCall();
		CancelCall = nullptr;
	}
	Super::Cancel();
}

void UAvatarForgeAsyncAction::Fail(const FAvatarForgeStatus& Status)
{
	OnFailed.Broadcast(Status);
	SetReadyToDestroy();
}

// ---------------------------------------------------------------- GenerateFaces / RenderFace

UAvatarForgeGenerateFaces* UAvatarForgeGenerateFaces::GenerateFaces(UObject* WorldContextObject, const TArray<int64>& Seeds, int32 Size)
{
	UAvatarForgeGenerateFaces* Action = NewObject<UAvatarForgeGenerateFaces>();
	Action->RequestSeeds = Seeds;
	Action->RequestSize = Size;
	Action->Bind(WorldContextObject);
	return Action;
}

UAvatarForgeGenerateFaces* UAvatarForgeGenerateFaces::RenderFace(UObject* WorldContextObject, const TArray<uint8>& Dna, int32 Size)
{
	UAvatarForgeGenerateFaces* Action = NewObject<UAvatarForgeGenerateFaces>();
	Action->RequestDna = Dna;
	Action->RequestSize = Size;
	Action->Bind(WorldContextObject);
	return Action;
}

void UAvatarForgeGenerateFaces::Activate()
{
	avatarforge::Client* Client;
	avatarforge::GenerateRequest Request;
	if (!Begin(Client, Request.output, RequestSize))
	{
		return;
	}
	Request.seeds.assign(RequestSeeds.GetData(), RequestSeeds.GetData() + RequestSeeds.Num());
	if (RequestDna.Num() > 0)
	{
		Request.dnas.push_back(ToStd(RequestDna));
	}
	TWeakObjectPtr<UAvatarForgeGenerateFaces> Weak(this);
	auto Call = Client->GenerateAsync(Request, [Weak](const avatarforge::Result<std::vector<avatarforge::Face>>& Result)
	{
		OnGameThread(Weak, [Result](UAvatarForgeGenerateFaces* Self) { Self->Deliver(Result); });
	});
	Started(Call);
}

void UAvatarForgeGenerateFaces::Deliver(const avatarforge::Result<std::vector<avatarforge::Face>>& Result)
{
	if (!ShouldBroadcastDelegates())
	{
		return;
	}
	if (!Result.ok())
	{
		Fail(ToUnreal(Result.status));
		return;
	}
	TArray<FAvatarForgeFace> Faces;
	for (const avatarforge::Face& In : Result.value)
	{
		FAvatarForgeFace& Out = Faces.AddDefaulted_GetRef();
		Out.Index = In.index;
		Out.Seed = In.seed.value_or(-1);
		Out.Error = ToUnreal(In.error);
		if (In.error.ok())
		{
			Out.Dna = ToUnreal(In.dna);
			Out.Texture = AvatarForge::MakeTexture(In.image, Out.Error);
		}
	}
	OnSuccess.Broadcast(Faces);
	SetReadyToDestroy();
}

// ---------------------------------------------------------------- RenderPreview

UAvatarForgeRenderPreview* UAvatarForgeRenderPreview::RenderPreview(UObject* WorldContextObject, const TArray<uint8>& Dna,
	const TMap<FString, float>& Sliders, const TMap<FString, FString>& Parts, float TruncationPsi, int32 Size)
{
	UAvatarForgeRenderPreview* Action = NewObject<UAvatarForgeRenderPreview>();
	Action->RequestDna = Dna;
	Action->RequestSliders = Sliders;
	Action->RequestParts = Parts;
	Action->RequestTruncationPsi = TruncationPsi;
	Action->RequestSize = Size;
	Action->Bind(WorldContextObject);
	return Action;
}

void UAvatarForgeRenderPreview::Activate()
{
	avatarforge::Client* Client;
	avatarforge::RenderPreviewRequest Request;
	if (!Begin(Client, Request.output, RequestSize))
	{
		return;
	}
	avatarforge::Sliders State;
	for (const TPair<FString, float>& Slider : RequestSliders)
	{
		State.Set(ToStd(Slider.Key), Slider.Value);
	}
	for (const TPair<FString, FString>& Part : RequestParts)
	{
		State.SetPart(ToStd(Part.Key), ToStd(Part.Value));
	}
	avatarforge::EditState Edits = State.State();
	Request.dna = ToStd(RequestDna);
	Request.edits = std::move(Edits.edits);
	Request.set_parts = std::move(Edits.set_parts);
	if (RequestTruncationPsi >= 0.f)
	{
		Request.truncation_psi = RequestTruncationPsi;
	}
	TWeakObjectPtr<UAvatarForgeRenderPreview> Weak(this);
	auto Call = Client->RenderPreviewAsync(Request, [Weak](const avatarforge::Result<avatarforge::RenderPreviewResponse>& Result)
	{
		OnGameThread(Weak, [Result](UAvatarForgeRenderPreview* Self)
		{
			if (!Self->ShouldBroadcastDelegates())
			{
				return;
			}
			FAvatarForgeStatus Error = ToUnreal(Result.status);
			UTexture2D* Texture = Result.ok() ? AvatarForge::MakeTexture(Result.value.image, Error) : nullptr;
			if (!Texture)
			{
				Self->Fail(Error);
				return;
			}
			Self->OnSuccess.Broadcast(Texture, ToUnreal(Result.value.dna));
			Self->SetReadyToDestroy();
		});
	});
	Started(Call);
}

// ---------------------------------------------------------------- Encode

UAvatarForgeEncode* UAvatarForgeEncode::EncodePhotos(UObject* WorldContextObject, const TArray<FAvatarForgePhoto>& Photos, int32 Size)
{
	UAvatarForgeEncode* Action = NewObject<UAvatarForgeEncode>();
	Action->RequestPhotos = Photos;
	Action->RequestSize = Size;
	Action->Bind(WorldContextObject);
	return Action;
}

static avatarforge::ImageFormat FileFormat(EAvatarForgePhotoFormat Format)
{
	switch (Format)
	{
	case EAvatarForgePhotoFormat::Jpeg: return avatarforge::ImageFormat::Jpeg;
	case EAvatarForgePhotoFormat::Webp: return avatarforge::ImageFormat::Webp;
	default: return avatarforge::ImageFormat::Png;
	}
}

void UAvatarForgeEncode::Activate()
{
	avatarforge::Client* Client;
	avatarforge::EncodeRequest Request;
	if (!Begin(Client, Request.output, RequestSize))
	{
		return;
	}
	for (const FAvatarForgePhoto& Photo : RequestPhotos)
	{
		avatarforge::Image& Image = Request.images.emplace_back();
		Image.format = FileFormat(Photo.Format);
		Image.data = ToStd(Photo.FileBytes);
	}
	TWeakObjectPtr<UAvatarForgeEncode> Weak(this);
	auto Call = Client->EncodeAsync(Request, [Weak](const avatarforge::Result<avatarforge::EncodeResponse>& Result)
	{
		OnGameThread(Weak, [Result](UAvatarForgeEncode* Self)
		{
			if (!Self->ShouldBroadcastDelegates())
			{
				return;
			}
			FAvatarForgeStatus Error = ToUnreal(Result.status);
			UTexture2D* Texture = Result.ok() ? AvatarForge::MakeTexture(Result.value.image, Error) : nullptr;
			if (!Texture)
			{
				Self->Fail(Error);
				return;
			}
			Self->OnSuccess.Broadcast(Texture, ToUnreal(Result.value.dna));
			Self->SetReadyToDestroy();
		});
	});
	Started(Call);
}

// ---------------------------------------------------------------- GetModel

UAvatarForgeGetModel* UAvatarForgeGetModel::GetModel(UObject* WorldContextObject)
{
	UAvatarForgeGetModel* Action = NewObject<UAvatarForgeGetModel>();
	Action->Bind(WorldContextObject);
	return Action;
}

static FAvatarForgeModelInfo ToUnrealModel(const avatarforge::ModelInfo& In)
{
	FAvatarForgeModelInfo Out;
	Out.Name = ToUnreal(In.name);
	Out.Version = ToUnreal(In.version);
	Out.Description = ToUnreal(In.description);
	Out.Resolution = In.resolution;
	Out.SupportedSizes = TArray<int32>(In.supported_sizes.data(), static_cast<int32>(In.supported_sizes.size()));
	Out.MaxFacesPerCall = In.max_unary_items;
	for (const avatarforge::PartInfo& P : In.parts)
	{
		FAvatarForgePart& Part = Out.Parts.AddDefaulted_GetRef();
		Part.Name = ToUnreal(P.name);
		for (const std::string& Value : P.values)
		{
			Part.Values.Add(ToUnreal(Value));
		}
		Part.ClassifierAccuracy = P.classifier_accuracy.value_or(-1.f);
	}
	for (const avatarforge::DirectionInfo& D : In.directions)
	{
		FAvatarForgeDirection& Direction = Out.Directions.AddDefaulted_GetRef();
		Direction.Name = ToUnreal(D.name);
		Direction.Description = ToUnreal(D.description);
		Direction.Min = D.strength_min;
		Direction.Max = D.strength_max;
		Direction.Default = D.default_strength;
	}
	return Out;
}

void UAvatarForgeGetModel::Activate()
{
	avatarforge::Client* Client;
	avatarforge::Output Unused;
	if (!Begin(Client, Unused, 0))
	{
		return;
	}
	TWeakObjectPtr<UAvatarForgeGetModel> Weak(this);
	auto Call = Client->GetModelAsync("", [Weak](const avatarforge::Result<avatarforge::ModelInfo>& Result)
	{
		OnGameThread(Weak, [Result](UAvatarForgeGetModel* Self)
		{
			if (!Self->ShouldBroadcastDelegates())
			{
				return;
			}
			if (!Result.ok())
			{
				Self->Fail(ToUnreal(Result.status));
				return;
			}
			Self->OnSuccess.Broadcast(ToUnrealModel(Result.value));
			Self->SetReadyToDestroy();
		});
	});
	Started(Call);
}

// ---------------------------------------------------------------- GetParts

UAvatarForgeGetParts* UAvatarForgeGetParts::GetSeedParts(UObject* WorldContextObject, const TArray<int64>& Seeds)
{
	UAvatarForgeGetParts* Action = NewObject<UAvatarForgeGetParts>();
	Action->RequestSeeds = Seeds;
	Action->Bind(WorldContextObject);
	return Action;
}

UAvatarForgeGetParts* UAvatarForgeGetParts::GetFaceParts(UObject* WorldContextObject, const TArray<uint8>& Dna)
{
	UAvatarForgeGetParts* Action = NewObject<UAvatarForgeGetParts>();
	Action->RequestDna = Dna;
	Action->Bind(WorldContextObject);
	return Action;
}

static FAvatarForgeFaceParts ToUnrealParts(const avatarforge::FaceParts& In)
{
	FAvatarForgeFaceParts Out;
	Out.Index = In.index;
	Out.bExact = In.source == avatarforge::PartsSource::Seed;
	for (const avatarforge::ReadPart& P : In.parts)
	{
		FAvatarForgeReadPart& Part = Out.Parts.AddDefaulted_GetRef();
		Part.Part = ToUnreal(P.part);
		Part.Value = ToUnreal(P.value);
		Part.Confidence = P.confidence;
	}
	return Out;
}

void UAvatarForgeGetParts::Activate()
{
	avatarforge::Client* Client;
	avatarforge::Output Unused;
	if (!Begin(Client, Unused, 0))
	{
		return;
	}
	avatarforge::GetPartsRequest Request;
	Request.seeds.assign(RequestSeeds.GetData(), RequestSeeds.GetData() + RequestSeeds.Num());
	if (RequestDna.Num() > 0)
	{
		Request.dnas.push_back(ToStd(RequestDna));
	}
	TWeakObjectPtr<UAvatarForgeGetParts> Weak(this);
	auto Call = Client->GetPartsAsync(Request, [Weak](const avatarforge::Result<std::vector<avatarforge::FaceParts>>& Result)
	{
		OnGameThread(Weak, [Result](UAvatarForgeGetParts* Self)
		{
			if (!Self->ShouldBroadcastDelegates())
			{
				return;
			}
			if (!Result.ok())
			{
				Self->Fail(ToUnreal(Result.status));
				return;
			}
			TArray<FAvatarForgeFaceParts> Faces;
			for (const avatarforge::FaceParts& Face : Result.value)
			{
				Faces.Add(ToUnrealParts(Face));
			}
			Self->OnSuccess.Broadcast(Faces);
			Self->SetReadyToDestroy();
		});
	});
	Started(Call);
}
