// Between the C++ core's plain types and Unreal's: strings, bytes, statuses, textures, and the
// hop from a gRPC thread to the game thread. No decisions live here; the core makes them.
#pragma once

#include <string>

#include "Async/Async.h"
#include "AvatarForgeTypes.h"
#include "CoreMinimal.h"
#include "avatarforge/types.h"

class UTexture2D;

DECLARE_LOG_CATEGORY_EXTERN(LogAvatarForge, Log, All);

namespace AvatarForge
{
std::string ToStd(const FString& Text);
FString ToUnreal(const std::string& Text);
avatarforge::Bytes ToStd(const TArray<uint8>& Bytes);
TArray<uint8> ToUnreal(const avatarforge::Bytes& Bytes);
FAvatarForgeStatus ToUnreal(const avatarforge::Status& Status);
FAvatarForgeStatus Unavailable(const TCHAR* Why);

// Game thread only. A new transient PF_B8G8R8A8 texture holding `Image`, which must be raw BGRA8
// (what TextureOutput asks for); null with `OutError` set otherwise.
UTexture2D* MakeTexture(const avatarforge::Image& Image, FAvatarForgeStatus& OutError);
// Game thread only. Writes `Image` into `Texture` when the size matches, so widgets showing it
// update in place; otherwise returns a new texture. Null with `OutError` set on a bad image.
UTexture2D* UpdateTexture(UTexture2D* Texture, const avatarforge::Image& Image, FAvatarForgeStatus& OutError);

// Runs `Fn(Object)` on the game thread if `Object` is still alive then, and drops it otherwise.
// Called from gRPC and client threads: it only posts, so it never blocks the thread that called
// (a blocked callback would stall Client::Shutdown).
template <class T, class F>
void OnGameThread(TWeakObjectPtr<T> Weak, F&& Fn)
{
	AsyncTask(ENamedThreads::GameThread, [Weak, Fn = Forward<F>(Fn)]() mutable
	{
		if (T* Object = Weak.Get())
		{
			Fn(Object);
		}
	});
}
}  // namespace AvatarForge
