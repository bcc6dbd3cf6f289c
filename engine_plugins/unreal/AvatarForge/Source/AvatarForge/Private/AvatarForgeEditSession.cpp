#include "AvatarForgeEditSession.h"

#include "AvatarForgeConvert.h"
#include "AvatarForgeSubsystem.h"

using AvatarForge::ToStd;
using AvatarForge::ToUnreal;

void UAvatarForgeEditSession::Open(UAvatarForgeSubsystem* Owner, avatarforge::Client* Client, const TArray<uint8>& Dna,
	const avatarforge::Output& Output, UWorld* InWorld)
{
	Subsystem = Owner;
	World = InWorld;
	TWeakObjectPtr<UAvatarForgeEditSession> Weak(this);
	if (!Client)
	{
		// Deferred like every other event, so handlers bound right after StartEditSession see it.
		AvatarForge::OnGameThread(Weak, [](UAvatarForgeEditSession* Self)
		{
			Self->OnFailed.Broadcast(AvatarForge::Unavailable(TEXT("no AvatarForge client: the game instance is shutting down")));
		});
		return;
	}
	Session = Client->StartEdit(ToStd(Dna), [Weak](const avatarforge::EditEvent& Event)
	{
		AvatarForge::OnGameThread(Weak, [Event](UAvatarForgeEditSession* Self) { Self->Handle(Event); });
	}, Output);
}

bool UAvatarForgeEditSession::SetSlider(const FString& Direction, float Strength)
{
	if (!Session || !Sliders.Set(ToStd(Direction), Strength))
	{
		return false;
	}
	Send();
	return true;
}

float UAvatarForgeEditSession::GetSlider(const FString& Direction) const
{
	return Sliders.Get(ToStd(Direction));
}

bool UAvatarForgeEditSession::SetPart(const FString& Part, const FString& Value)
{
	if (!Session || !Sliders.SetPart(ToStd(Part), ToStd(Value)))
	{
		return false;
	}
	Send();
	return true;
}

FString UAvatarForgeEditSession::GetPart(const FString& Part) const
{
	return ToUnreal(Sliders.GetPart(ToStd(Part)));
}

void UAvatarForgeEditSession::SetTruncation(float Psi)
{
	Sliders.SetTruncation(Psi >= 0.f ? std::optional<float>(Psi) : std::nullopt);
	Send();
}

void UAvatarForgeEditSession::ResetSliders()
{
	Sliders.Reset();
	Send();
}

void UAvatarForgeEditSession::Send()
{
	if (Session)
	{
		Session->Update(Sliders.State());
	}
}

void UAvatarForgeEditSession::Commit()
{
	if (Session)
	{
		Session->Commit();
	}
}

void UAvatarForgeEditSession::Close()
{
	if (Session)
	{
		// The destructor cancels the stream and joins its threads; events already posted to the
		// game thread find the session closed and are dropped in Handle.
		Session->Cancel();
		Session.reset();
	}
	if (UAvatarForgeSubsystem* Owner = Subsystem.Get())
	{
		Owner->Untrack(this);
	}
}

void UAvatarForgeEditSession::BeginDestroy()
{
	Session.reset();
	Super::BeginDestroy();
}

void UAvatarForgeEditSession::Handle(const avatarforge::EditEvent& Event)
{
	if (!Session)
	{
		return;
	}
	FAvatarForgeStatus Error;
	switch (Event.kind)
	{
	case avatarforge::EditEvent::Kind::Started:
	case avatarforge::EditEvent::Kind::Preview:
		if (UTexture2D* Texture = AvatarForge::UpdateTexture(Face, Event.image, Error))
		{
			Face = Texture;
			(Event.kind == avatarforge::EditEvent::Kind::Started ? OnStarted : OnPreview).Broadcast(Face);
		}
		else
		{
			OnFailed.Broadcast(Error);
		}
		break;
	case avatarforge::EditEvent::Kind::Committed:
		OnCommitted.Broadcast(ToUnreal(Event.dna));
		break;
	case avatarforge::EditEvent::Kind::Error:
		OnFailed.Broadcast(ToUnreal(Event.error));
		break;
	}
}
