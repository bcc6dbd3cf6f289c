#include "avatarforge/pixels.h"

#include <cstring>

namespace avatarforge {

size_t PackedSize(const Image& image) {
  if (!image.raw() || image.width <= 0 || image.height <= 0) return 0;
  const size_t row = size_t(image.width) * 4;
  if (image.row_stride < 0 || size_t(image.row_stride) < row) return 0;
  // The last row needs only its pixels, not the padding after them.
  if (image.data.size() < size_t(image.row_stride) * (image.height - 1) + row) return 0;
  return row * image.height;
}

bool CopyPackedRows(const Image& image, bool top_down, uint8_t* dst, size_t dst_size) {
  const size_t packed = PackedSize(image);
  if (packed == 0 || packed > dst_size || dst == nullptr) return false;
  const size_t row = size_t(image.width) * 4;
  const bool flip = image.bottom_up == top_down;
  for (int y = 0; y < image.height; ++y) {
    const int from = flip ? image.height - 1 - y : y;
    std::memcpy(dst + row * y, image.data.data() + size_t(image.row_stride) * from, row);
  }
  return true;
}

}  // namespace avatarforge
