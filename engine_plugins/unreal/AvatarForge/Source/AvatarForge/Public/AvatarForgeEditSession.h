// A character creator's live session: move sliders, see the face change, commit to get its DNA.
//
// SetSlider may be called every frame while the player drags: the client core keeps only the
// newest state (latest wins, never a queue) and the server renders only the newest it has, so a
// fast drag costs a few renders, not one per frame. Events fire on the game thread.
#pragma once

#include <memory>

#include "AvatarForgeTypes.h"
#include "CoreMinimal.h"
#include "UObject/Object.h"
#include "avatarforge/client.h"
#include "avatarforge/sliders.h"
#include "AvatarForgeEditSession.generated.h"

class UAvatarForgeSubsystem;

UCLASS(BlueprintType)
class AVATARFORGE_API UAvatarForgeEditSession : public UObject
{
	GENERATED_BODY()

public:
	// The starting face, once the server has loaded it.
	UPROPERTY(BlueprintAssignable, Category = "AvatarForge")
	FAvatarForgeTextureEvent OnStarted;

	// The face with the newest slider values rendered into it. The same texture each time (it is
	// updated in place), so an Image widget showing Face needs no rebinding.
	UPROPERTY(BlueprintAssignable, Category = "AvatarForge")
	FAvatarForgeTextureEvent OnPreview;

	// The DNA of the newest state, after Commit: save it as the player's character.
	UPROPERTY(BlueprintAssignable, Category = "AvatarForge")
	FAvatarForgeDnaEvent OnCommitted;

	// A rejected state or start (Field names the slider, e.g. "edits[0].strength"); the session stays
	// open. Also fires with UNAVAILABLE when the session could not be opened at all.
	UPROPERTY(BlueprintAssignable, Category = "AvatarForge")
	FAvatarForgeFailed OnFailed;

	// The current face texture (null until OnStarted).
	UPROPERTY(BlueprintReadOnly, Category = "AvatarForge")
	TObjectPtr<UTexture2D> Face = nullptr;

	// Sets one slider (a direction name from GetModel) and sends every slider's value. 0 removes the
	// edit. False, sending nothing, for an empty name, a non-finite value or a closed session.
	UFUNCTION(BlueprintCallable, Category = "AvatarForge")
	bool SetSlider(const FString& Direction, float Strength);

	UFUNCTION(BlueprintPure, Category = "AvatarForge")
	float GetSlider(const FString& Direction) const;

	// Sets one part (a name and one of its values from GetModel's Parts, e.g. hair_color, RED) and
	// sends the whole state. An empty Value unsets it: the face keeps its own. A part or value the
	// model does not have fires OnFailed with its Field (e.g. "set_parts[0].value"). False, sending
	// nothing, for an empty part name or a closed session.
	UFUNCTION(BlueprintCallable, Category = "AvatarForge")
	bool SetPart(const FString& Part, const FString& Value);

	// The value set for Part; empty when none is set (the face's own shows).
	UFUNCTION(BlueprintPure, Category = "AvatarForge")
	FString GetPart(const FString& Part) const;

	// Pulls the face toward the model's average (0..1); negative = the model's default.
	UFUNCTION(BlueprintCallable, Category = "AvatarForge")
	void SetTruncation(float Psi);

	// Every slider back to 0, every part unset, and sent.
	UFUNCTION(BlueprintCallable, Category = "AvatarForge")
	void ResetSliders();

	// Asks for the newest state's DNA: OnCommitted (or OnFailed if that state was rejected).
	UFUNCTION(BlueprintCallable, Category = "AvatarForge")
	void Commit();

	// Ends the stream; no event fires after this returns. Also done for you when the session's
	// world or the game instance ends.
	UFUNCTION(BlueprintCallable, Category = "AvatarForge")
	void Close();

	UFUNCTION(BlueprintPure, Category = "AvatarForge")
	bool IsOpen() const { return Session != nullptr; }

	// Called by UAvatarForgeSubsystem::StartEditSession; a null client fails the session at once.
	void Open(UAvatarForgeSubsystem* Owner, avatarforge::Client* Client, const TArray<uint8>& Dna,
		const avatarforge::Output& Output, UWorld* InWorld);
	const UWorld* GetWorldTracked() const { return World.Get(); }

	virtual void BeginDestroy() override;

private:
	void Send();
	void Handle(const avatarforge::EditEvent& Event);

	std::unique_ptr<avatarforge::EditSession> Session;
	avatarforge::Sliders Sliders;
	TWeakObjectPtr<UAvatarForgeSubsystem> Subsystem;
	TWeakObjectPtr<UWorld> World;
};
