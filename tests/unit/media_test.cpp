// Proves media inspection on the fixtures: MIME types come from the bytes (not the name),
// images and the first video frame become JPEG thumbnails within 320 px and the size bound,
// and files that are not what they claim fail with a message instead of crashing. libav is
// mapped only once a video is probed, and a missing video module is a clear error.
#include <gtest/gtest.h>

#include <stb/stb_image.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "sdk/media/thumbnail.h"
#include "tests/support/process.h"

using namespace ferry::media;

static std::string fixture(const std::string& name) {
  return std::string(FERRY_SOURCE_DIR) + "/fixtures/media/" + name;
}

static void expect_valid_thumb(const MediaInfo& info) {
  ASSERT_FALSE(info.thumb_jpeg.empty());
  EXPECT_LE(info.thumb_jpeg.size(), kThumbMaxBytes);
  EXPECT_LE(std::max(info.thumb_width, info.thumb_height), kThumbMaxSide);
  int w = 0, h = 0, comp = 0;
  // The thumbnail is a real JPEG of the announced size.
  ASSERT_TRUE(stbi_info_from_memory(reinterpret_cast<const unsigned char*>(info.thumb_jpeg.data()),
                                    int(info.thumb_jpeg.size()), &w, &h, &comp));
  EXPECT_EQ(w, info.thumb_width);
  EXPECT_EQ(h, info.thumb_height);
}

TEST(media, sniff_mime_from_bytes) {
  EXPECT_EQ(sniff_mime(fixture("sample-1280x720.jpg")), "image/jpeg");
  EXPECT_EQ(sniff_mime(fixture("sample-640x480.png")), "image/png");
  EXPECT_EQ(sniff_mime(fixture("sample-2s-640x360.mp4")), "video/mp4");
  ferry::test::TempDir dir;
  std::ofstream(dir.sub("fake.jpg")) << "just some text, not a JPEG\n";
  EXPECT_EQ(sniff_mime(dir.sub("fake.jpg")), "text/plain");
  std::ofstream(dir.sub("bin"), std::ios::binary) << std::string("\x00\x01\x02\x03", 4);
  EXPECT_EQ(sniff_mime(dir.sub("bin")), "application/octet-stream");
  EXPECT_EQ(sniff_mime(dir.sub("missing")), "application/octet-stream");
}

TEST(media, image_thumbnail_keeps_aspect) {
  MediaInfo info;
  std::string err;
  ASSERT_TRUE(probe_image(fixture("sample-1280x720.jpg"), info, err)) << err;
  EXPECT_EQ(info.width, 1280);
  EXPECT_EQ(info.height, 720);
  expect_valid_thumb(info);
  EXPECT_EQ(info.thumb_width, 320);
  EXPECT_EQ(info.thumb_height, 180);
  MediaInfo png;
  ASSERT_TRUE(probe_image(fixture("sample-640x480.png"), png, err)) << err;
  expect_valid_thumb(png);
  EXPECT_EQ(png.thumb_height, 240);
}

TEST(media, video_first_frame) {
  MediaInfo info;
  std::string err;
  ASSERT_TRUE(probe_video(fixture("sample-2s-640x360.mp4"), info, err)) << err;
  EXPECT_EQ(info.width, 640);
  EXPECT_EQ(info.height, 360);
  EXPECT_NEAR(double(info.duration_ms), 2000.0, 100.0);
  expect_valid_thumb(info);
  EXPECT_EQ(info.thumb_width, 320);
}

TEST(media, garbage_fails_clearly) {
  ferry::test::TempDir dir;
  std::ofstream(dir.sub("x.jpg"), std::ios::binary) << "\xFF\xD8\xFF garbage that is not a jpeg";
  MediaInfo info;
  std::string err;
  EXPECT_FALSE(probe_image(dir.sub("x.jpg"), info, err));
  EXPECT_FALSE(err.empty());
  err.clear();
  EXPECT_FALSE(probe_video(dir.sub("x.jpg"), info, err));
  EXPECT_FALSE(err.empty());
  EXPECT_TRUE(info.thumb_jpeg.empty());
}

namespace {

bool libav_mapped() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("libavcodec") != std::string::npos) return true;
  }
  return false;
}

}  // namespace

// libav lives in libferry_video.so, loaded by the first probe_video() (video_module.h): a
// process that never probes a video never maps its ~110 libraries. Each check runs in a fresh
// process (gtest's threadsafe death-test style re-executes this binary), so the other tests'
// probes do not count.
TEST(media, libav_is_loaded_only_when_a_video_is_probed) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        MediaInfo info;
        std::string err;
        bool before = libav_mapped();
        bool image = probe_image(fixture("sample-640x480.png"), info, err);
        bool after_image = libav_mapped();
        bool video = probe_video(fixture("sample-2s-640x360.mp4"), info, err);
        std::exit(!before && image && !after_image && video && libav_mapped() ? 0 : 1);
      },
      testing::ExitedWithCode(0), "");
}

TEST(media, a_missing_video_module_is_a_clear_error) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        // FERRY_VIDEO_MODULE, when set, is the only place looked at.
        setenv("FERRY_VIDEO_MODULE", "/nonexistent/libferry_video.so", 1);
        MediaInfo info;
        std::string err;
        bool video = probe_video(fixture("sample-2s-640x360.mp4"), info, err);
        std::fprintf(stderr, "%s\n", err.c_str());
        std::exit(video || !info.thumb_jpeg.empty() ? 1 : 0);
      },
      testing::ExitedWithCode(0),
      "video previews need libferry_video.so .*not found or not loadable at: "
      "/nonexistent/libferry_video.so");
  // A file that is there but is no module fails the same way.
  ferry::test::TempDir dir;
  std::ofstream(dir.sub("libferry_video.so")) << "not an ELF file";
  std::string bad = dir.sub("libferry_video.so");
  EXPECT_EXIT(
      {
        setenv("FERRY_VIDEO_MODULE", bad.c_str(), 1);
        MediaInfo info;
        std::string err;
        bool video = probe_video(fixture("sample-2s-640x360.mp4"), info, err);
        std::fprintf(stderr, "%s\n", err.c_str());
        // The "threadsafe" child ran this test from the top, so it made a TempDir of its own,
        // and std::exit skips its destructor.
        std::error_code ec;
        std::filesystem::remove_all(dir.path(), ec);
        std::exit(video ? 1 : 0);
      },
      testing::ExitedWithCode(0), "not found or not loadable at: .*libferry_video.so");
}
