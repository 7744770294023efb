// Reads the current back buffer (after rendering, before swapping) into a PNG.
#pragma once

#include <string>

namespace ferry::gui {

// Writes the w x h framebuffer as an RGB PNG at path. Returns false (with *why) on failure.
bool save_screenshot(const std::string& path, int w, int h, std::string* why);

}  // namespace ferry::gui
