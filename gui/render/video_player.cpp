#include "gui/render/video_player.h"

#include <GLFW/glfw3.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <chrono>
#include <memory>

namespace ferry::gui {

// The libav objects of one open file; owned by the decode thread.
struct VideoPlayer::Av {
  AVFormatContext* fmt = nullptr;
  AVCodecContext* codec = nullptr;
  SwsContext* sws = nullptr;
  AVFrame* frame = nullptr;
  AVPacket* packet = nullptr;
  int stream = -1;
  double time_base = 0;
  int out_w = 0, out_h = 0;
  ~Av() {
    sws_freeContext(sws);
    av_packet_free(&packet);
    av_frame_free(&frame);
    avcodec_free_context(&codec);
    avformat_close_input(&fmt);
  }
};

VideoPlayer::~VideoPlayer() {
  close();
  if (tex_.id) glDeleteTextures(1, &tex_.id);
}

bool VideoPlayer::open(const std::string& path, std::string* why) {
  close();
  auto av = std::make_unique<Av>();
  if (avformat_open_input(&av->fmt, path.c_str(), nullptr, nullptr) < 0 ||
      avformat_find_stream_info(av->fmt, nullptr) < 0) {
    *why = "cannot read " + path;
    return false;
  }
  const AVCodec* dec = nullptr;
  av->stream = av_find_best_stream(av->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &dec, 0);
  if (av->stream < 0 || !dec) {
    *why = "no video stream in " + path;
    return false;
  }
  AVStream* st = av->fmt->streams[av->stream];
  av->codec = avcodec_alloc_context3(dec);
  if (!av->codec || avcodec_parameters_to_context(av->codec, st->codecpar) < 0 ||
      avcodec_open2(av->codec, dec, nullptr) < 0) {
    *why = "cannot decode " + path;
    return false;
  }
  av->time_base = av_q2d(st->time_base);
  av->frame = av_frame_alloc();
  av->packet = av_packet_alloc();
  int w = av->codec->width, h = av->codec->height;
  if (w <= 0 || h <= 0 || !av->frame || !av->packet) {
    *why = "bad video size";
    return false;
  }
  av->out_w = std::min(w, 1280);
  av->out_h = std::max(1, int(int64_t(h) * av->out_w / w));
  duration_s_ = av->fmt->duration > 0 ? double(av->fmt->duration) / AV_TIME_BASE : 0;
  path_ = path;
  stop_ = false;
  paused_ = false;
  seek_to_ = -1;
  position_s_ = 0;
  frames_shown_ = 0;
  thread_ = std::thread([this, a = av.release()] {
    std::unique_ptr<Av> owned(a);
    run(a);
  });
  return true;
}

void VideoPlayer::close() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  path_.clear();
}

void VideoPlayer::set_paused(bool paused) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    paused_ = paused;
  }
  cv_.notify_all();
}

void VideoPlayer::seek(double seconds) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    seek_to_ = std::max(0.0, seconds);
  }
  cv_.notify_all();
}

// Sleeps until the frame at `pts` is due. Returns false when stopped or asked to seek (the
// frame is then dropped). Pausing stops the clock: the base moves by the time paused.
bool VideoPlayer::wait_until(double pts, double* base_pts,
                             std::chrono::steady_clock::time_point* base) {
  using Clock = std::chrono::steady_clock;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (stop_ || seek_to_ >= 0) return false;
    if (paused_) {
      cv_.wait(lock);
      *base = Clock::now();
      *base_pts = position_s_;
      continue;
    }
    auto due = *base + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(pts - *base_pts));
    if (Clock::now() >= due) return true;
    cv_.wait_until(lock, due);
  }
}

void VideoPlayer::run(Av* av) {
  using Clock = std::chrono::steady_clock;
  Clock::time_point base = Clock::now();
  double base_pts = -1;
  std::vector<unsigned char> rgba(size_t(av->out_w) * size_t(av->out_h) * 4);
  for (;;) {
    double seek = -1;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_) return;
      seek = seek_to_;
      seek_to_ = -1;
    }
    if (seek >= 0) {
      av_seek_frame(av->fmt, av->stream, int64_t(seek / av->time_base), AVSEEK_FLAG_BACKWARD);
      avcodec_flush_buffers(av->codec);
      base_pts = -1;
    }
    int rc = av_read_frame(av->fmt, av->packet);
    if (rc < 0) {  // the end: pause on the last frame; play or seek starts again
      std::unique_lock<std::mutex> lock(mu_);
      paused_ = true;
      cv_.wait(lock, [this] { return stop_ || seek_to_ >= 0 || !paused_; });
      if (!stop_ && seek_to_ < 0) seek_to_ = 0;  // play after the end: from the start
      continue;
    }
    bool ours = av->packet->stream_index == av->stream;
    if (ours) avcodec_send_packet(av->codec, av->packet);
    av_packet_unref(av->packet);
    while (ours && avcodec_receive_frame(av->codec, av->frame) == 0) {
      double pts = double(av->frame->best_effort_timestamp) * av->time_base;
      if (base_pts < 0) {
        base_pts = pts;
        base = Clock::now();
      }
      if (!wait_until(pts, &base_pts, &base)) {
        av_frame_unref(av->frame);
        break;
      }
      if (!av->sws)
        av->sws = sws_getContext(av->frame->width, av->frame->height,
                                 AVPixelFormat(av->frame->format), av->out_w, av->out_h,
                                 AV_PIX_FMT_RGBA, SWS_BILINEAR, nullptr, nullptr, nullptr);
      uint8_t* dst[4] = {rgba.data(), nullptr, nullptr, nullptr};
      int stride[4] = {av->out_w * 4, 0, 0, 0};
      if (av->sws)
        sws_scale(av->sws, av->frame->data, av->frame->linesize, 0, av->frame->height, dst, stride);
      av_frame_unref(av->frame);
      {
        std::lock_guard<std::mutex> lock(mu_);
        rgba_ = rgba;
        w_ = av->out_w;
        h_ = av->out_h;
        fresh_ = true;
      }
      position_s_ = pts;
      frames_shown_++;
      glfwPostEmptyEvent();
    }
  }
}

const Texture* VideoPlayer::texture() {
  std::lock_guard<std::mutex> lock(mu_);
  if (fresh_) {
    if (!tex_.id || tex_.w != w_ || tex_.h != h_) {
      if (!tex_.id) glGenTextures(1, &tex_.id);
      glBindTexture(GL_TEXTURE_2D, tex_.id);
      glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
      glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
      glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
      glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, w_, h_, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba_.data());
      tex_.w = w_;
      tex_.h = h_;
    } else {
      glBindTexture(GL_TEXTURE_2D, tex_.id);
      glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
      glTexSubImage2D(GL_TEXTURE_2D, 0, 0, 0, w_, h_, GL_RGBA, GL_UNSIGNED_BYTE, rgba_.data());
    }
    fresh_ = false;
  }
  return tex_.id && frames_shown_ > 0 ? &tex_ : nullptr;
}

}  // namespace ferry::gui
