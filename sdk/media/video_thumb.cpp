// Video probing: dimensions, duration and the first decodable frame as a thumbnail, with
// libavformat (demux), libavcodec (decode) and libswscale (convert to RGB24). Built into
// libferry_video.so only (video_module.h).
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
}

#include <vector>

#include "sdk/media/thumbnail.h"

namespace ferry::media {
namespace {

// Owns the libav objects so every early return frees them.
struct Decoder {
  AVFormatContext* fmt = nullptr;
  AVCodecContext* codec = nullptr;
  AVFrame* frame = av_frame_alloc();
  AVPacket* packet = av_packet_alloc();
  SwsContext* sws = nullptr;
  ~Decoder() {
    sws_freeContext(sws);
    av_packet_free(&packet);
    av_frame_free(&frame);
    avcodec_free_context(&codec);
    avformat_close_input(&fmt);
  }
};

std::string av_error(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

// Decodes packets of `stream` until one frame comes out.
bool first_frame(Decoder& d, int stream, std::string& err) {
  int rc;
  while ((rc = av_read_frame(d.fmt, d.packet)) >= 0) {
    if (d.packet->stream_index == stream) {
      rc = avcodec_send_packet(d.codec, d.packet);
      av_packet_unref(d.packet);
      if (rc < 0 && rc != AVERROR(EAGAIN)) break;
      if (avcodec_receive_frame(d.codec, d.frame) == 0) return true;
    } else {
      av_packet_unref(d.packet);
    }
  }
  avcodec_send_packet(d.codec, nullptr);  // drain: some codecs hold the first frame back
  if (avcodec_receive_frame(d.codec, d.frame) == 0) return true;
  err = "no decodable video frame" + (rc < 0 && rc != AVERROR_EOF ? ": " + av_error(rc) : "");
  return false;
}

}  // namespace

bool probe_video_libav(const std::string& path, MediaInfo& out, std::string& err) {
  Decoder d;
  if (!d.frame || !d.packet) {
    err = "out of memory";
    return false;
  }
  int rc = avformat_open_input(&d.fmt, path.c_str(), nullptr, nullptr);
  if (rc < 0 || (rc = avformat_find_stream_info(d.fmt, nullptr)) < 0) {
    err = "cannot read video: " + av_error(rc);
    return false;
  }
  const AVCodec* codec = nullptr;
  int stream = av_find_best_stream(d.fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (stream < 0 || !codec) {
    err = "no video stream";
    return false;
  }
  AVStream* st = d.fmt->streams[stream];
  out.width = st->codecpar->width;
  out.height = st->codecpar->height;
  if (d.fmt->duration > 0) out.duration_ms = d.fmt->duration / (AV_TIME_BASE / 1000);
  else if (st->duration > 0) out.duration_ms = int64_t(double(st->duration) * av_q2d(st->time_base) * 1000);
  d.codec = avcodec_alloc_context3(codec);
  if (!d.codec || avcodec_parameters_to_context(d.codec, st->codecpar) < 0 ||
      avcodec_open2(d.codec, codec, nullptr) < 0) {
    err = std::string("cannot open the ") + codec->name + " decoder";
    return false;
  }
  if (!first_frame(d, stream, err)) return false;
  int w = d.frame->width, h = d.frame->height;
  if (w <= 0 || h <= 0) {
    err = "video frame has no size";
    return false;
  }
  d.sws = sws_getContext(w, h, AVPixelFormat(d.frame->format), w, h, AV_PIX_FMT_RGB24,
                         SWS_BILINEAR, nullptr, nullptr, nullptr);
  if (!d.sws) {
    err = "cannot convert the video's pixel format";
    return false;
  }
  std::vector<unsigned char> rgb(size_t(w) * size_t(h) * 3);
  uint8_t* dst[1] = {rgb.data()};
  int dst_stride[1] = {w * 3};
  sws_scale(d.sws, d.frame->data, d.frame->linesize, 0, h, dst, dst_stride);
  if (!make_thumbnail(rgb.data(), w, h, out)) {
    err = "cannot encode thumbnail";
    return false;
  }
  return true;
}

}  // namespace ferry::media
