#include "AvatarForgeConvert.h"

#include "Engine/Texture2D.h"
#include "RenderUtils.h"
#include "avatarforge/pixels.h"

DEFINE_LOG_CATEGORY(LogAvatarForge);

namespace AvatarForge
{
std::string ToStd(const FString& Text)
{
	FTCHARToUTF8 Utf8(*Text);
	return std::string(Utf8.Get(), Utf8.Length());
}

FString ToUnreal(const std::string& Text)
{
	FUTF8ToTCHAR Wide(Text.data(), static_cast<int32>(Text.size()));
	return FString(Wide.Length(), Wide.Get());
}

avatarforge::Bytes ToStd(const TArray<uint8>& Bytes)
{
	return avatarforge::Bytes(Bytes.GetData(), Bytes.GetData() + Bytes.Num());
}

TArray<uint8> ToUnreal(const avatarforge::Bytes& Bytes)
{
	return TArray<uint8>(Bytes.data(), static_cast<int32>(Bytes.size()));
}

FAvatarForgeStatus ToUnreal(const avatarforge::Status& Status)
{
	FAvatarForgeStatus Out;
	Out.Code = Status.code;
	Out.Message = ToUnreal(Status.message);
	Out.Field = ToUnreal(Status.field);
	return Out;
}

FAvatarForgeStatus Unavailable(const TCHAR* Why)
{
	FAvatarForgeStatus Out;
	Out.Code = 14;  // UNAVAILABLE, as the core reports an unreachable server
	Out.Message = Why;
	return Out;
}

static bool CheckImage(const avatarforge::Image& Image, FAvatarForgeStatus& OutError)
{
	if (Image.format == avatarforge::ImageFormat::RawBgra8 && avatarforge::PackedSize(Image) > 0)
	{
		return true;
	}
	OutError.Code = 13;  // INTERNAL: the server sent something other than what was asked for
	OutError.Message = FString::Printf(TEXT("expected a raw BGRA8 image, got format %d, %dx%d, stride %d, %d bytes"),
		static_cast<int32>(Image.format), Image.width, Image.height, Image.row_stride, static_cast<int32>(Image.data.size()));
	return false;
}

UTexture2D* MakeTexture(const avatarforge::Image& Image, FAvatarForgeStatus& OutError)
{
	if (!CheckImage(Image, OutError))
	{
		return nullptr;
	}
	UTexture2D* Texture = UTexture2D::CreateTransient(Image.width, Image.height, PF_B8G8R8A8);
	if (!Texture)
	{
		OutError = Unavailable(TEXT("could not create a texture"));
		return nullptr;
	}
	Texture->SRGB = true;  // the server's pixels are sRGB, like a PNG's
	FTexture2DMipMap& Mip = Texture->GetPlatformData()->Mips[0];
	uint8* Data = static_cast<uint8*>(Mip.BulkData.Lock(LOCK_READ_WRITE));
	avatarforge::CopyPackedRows(Image, /*top_down=*/true, Data, static_cast<size_t>(Mip.BulkData.GetBulkDataSize()));
	Mip.BulkData.Unlock();
	Texture->UpdateResource();
	return Texture;
}

UTexture2D* UpdateTexture(UTexture2D* Texture, const avatarforge::Image& Image, FAvatarForgeStatus& OutError)
{
	if (!CheckImage(Image, OutError))
	{
		return nullptr;
	}
	if (!Texture || Texture->GetSizeX() != Image.width || Texture->GetSizeY() != Image.height)
	{
		return MakeTexture(Image, OutError);
	}
	// The render thread reads the copy later and frees it with the region.
	const size_t Size = avatarforge::PackedSize(Image);
	uint8* Copy = new uint8[Size];
	avatarforge::CopyPackedRows(Image, /*top_down=*/true, Copy, Size);
	FUpdateTextureRegion2D* Region = new FUpdateTextureRegion2D(0, 0, 0, 0, Image.width, Image.height);
	Texture->UpdateTextureRegions(0, 1, Region, Image.width * 4, 4, Copy,
		[](uint8* Data, const FUpdateTextureRegion2D* Regions)
		{
			delete[] Data;
			delete Regions;
		});
	return Texture;
}
}  // namespace AvatarForge
