// Raw images into texture memory. Engines upload tightly packed rows top row first (Unreal's
// PF_B8G8R8A8 mip data) or bottom row first (Unity); the server says which layout it sent, and
// this copies one into the other, checking sizes so a short or odd reply never overruns a buffer.
#pragma once

#include <cstddef>
#include <cstdint>

#include "avatarforge/types.h"

namespace avatarforge {

// Bytes a tightly packed copy of `image` takes (width * 4 * height); 0 when `image` is not a
// complete raw image (not raw, a non-positive size, a stride under width * 4, or too little data).
size_t PackedSize(const Image& image);

// Copies `image` into `dst` as tightly packed rows (width * 4 bytes each, no padding), in the same
// channel order, top row first when `top_down` else bottom row first. False, writing nothing,
// when PackedSize(image) is 0 or larger than `dst_size`.
bool CopyPackedRows(const Image& image, bool top_down, uint8_t* dst, size_t dst_size);

}  // namespace avatarforge
