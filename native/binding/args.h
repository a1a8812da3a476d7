// Reads one call's JavaScript arguments into a kernel's parameter struct, checking each as it goes.
//
// The TypeScript layer (src/validate.ts) has already checked everything with friendlier messages; these
// checks are the second line, so that calling the addon directly can never make a kernel read or write
// out of bounds. Arguments are positional, in the order an op's parse() asks for them.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

namespace normkit {

// One typed array an op touches: where its bytes are, and whether the kernel writes them.
struct BufferUse {
  const char* name;
  napi_value value;
  const void* begin;
  size_t bytes;
  bool written;
  const char* may_alias;  // an input this output may be exactly (in-place), or null
};

class Args {
 public:
  // `op` names the function in messages; it must outlive the Args (a string literal or a static).
  Args(const Napi::CallbackInfo& info, const char* op) : info_(info), env_(info.Env()), op_(op) {}

  // A count: an integer in [0, 2^53).
  size_t dim(const char* name) {
    const double d = number(name, "a non-negative integer");
    if (!(d >= 0) || d != std::floor(d) || d >= 9007199254740992.0 || d > double(SIZE_MAX))
      throw range_error(name, "a non-negative integer below 2^53, got " + std::to_string(d));
    return static_cast<size_t>(d);
  }

  // A size that must not be 0 (the normalised size of a row: statistics of nothing are undefined).
  size_t positive_dim(const char* name) {
    const size_t d = dim(name);
    if (d == 0) throw range_error(name, "a positive integer, got 0");
    return d;
  }

  // a * b, refusing sizes whose bytes would not fit in memory addressing.
  size_t product(size_t a, size_t b, const char* what) {
    if (b != 0 && a > (SIZE_MAX / sizeof(float)) / b) throw range_error(what, "a size that fits in memory");
    return a * b;
  }

  // eps and friends: a finite number >= 0.
  float non_negative(const char* name) {
    const double d = number(name, "a number");
    if (!(d >= 0) || !std::isfinite(d)) throw range_error(name, "a finite number >= 0");
    return static_cast<float>(d);
  }

  bool boolean(const char* name) {
    bool b = false;
    if (napi_get_value_bool(env_, next(name), &b) != napi_ok) throw type_error(name, "a boolean");
    return b;
  }

  // A finite number in [lo, hi], kept in double.
  double number_in(const char* name, double lo, double hi) {
    const double d = number(name, "a number");
    if (!(d >= lo && d <= hi))
      throw range_error(name, "a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                                  std::to_string(d));
    return d;
  }

  // A condition between arguments already read (e.g. groups dividing channels); RangeError otherwise.
  void require(bool ok, const char* name, const std::string& expected) const {
    if (!ok) throw range_error(name, expected);
  }

  // Float64Array arguments (per-channel statistics that must not lose precision).
  const double* input_f64(const char* name, size_t length) {
    return static_cast<const double*>(typed(name, length, false, false, nullptr, napi_float64_array, sizeof(double)));
  }
  double* output_f64(const char* name, size_t length) {
    return static_cast<double*>(typed(name, length, false, true, nullptr, napi_float64_array, sizeof(double)));
  }
  double* optional_output_f64(const char* name, size_t length) {
    return static_cast<double*>(typed(name, length, true, true, nullptr, napi_float64_array, sizeof(double)));
  }

  const float* input(const char* name, size_t length) { return array(name, length, false, false, nullptr); }
  const float* optional_input(const char* name, size_t length) {
    return array(name, length, true, false, nullptr);
  }
  float* output(const char* name, size_t length, const char* may_alias = nullptr) {
    return array(name, length, false, true, may_alias);
  }
  float* optional_output(const char* name, size_t length) { return array(name, length, true, true, nullptr); }

  // An output overlapping anything else would be read after being written: refuse it, except an output
  // that is exactly the input it names as `may_alias` (an in-place op the kernel supports).
  void check_no_overlap() const {
    for (size_t i = 0; i < count_; ++i) {
      const BufferUse& o = buffers_[i];
      if (!o.written || o.bytes == 0) continue;
      for (size_t k = 0; k < count_; ++k) {
        const BufferUse& b = buffers_[k];
        if (k == i || b.bytes == 0) continue;
        const char* lo = static_cast<const char*>(o.begin);
        const char* other = static_cast<const char*>(b.begin);
        if (!(lo < other + b.bytes && other < lo + o.bytes)) continue;
        const bool allowed = o.may_alias && std::strcmp(o.may_alias, b.name) == 0 && o.begin == b.begin &&
                             o.bytes == b.bytes;
        if (!allowed)
          throw Napi::RangeError::New(
              env_, std::string("normkit.") + op_ + ": '" + o.name + "' overlaps '" + b.name +
                        "' in memory; outputs must not share memory with other arguments" +
                        (o.may_alias ? std::string(" (except exactly '") + o.may_alias + "', in place)" : ""));
      }
    }
  }

  void expect_end() const {
    if (info_.Length() != index_)
      throw Napi::TypeError::New(env_, std::string("normkit.") + op_ + ": expected " + std::to_string(index_) +
                                           " arguments, got " + std::to_string(info_.Length()));
  }

  const BufferUse* buffers() const { return buffers_; }
  Napi::Env env() const { return info_.Env(); }
  size_t buffer_count() const { return count_; }

 private:
  static constexpr size_t kMaxBuffers = 16;

  napi_value next(const char* name) {
    if (index_ >= info_.Length())
      throw Napi::TypeError::New(env_, message(name, "an argument here, but the call has too few"));
    return info_[index_++];
  }

  double number(const char* name, const char* expected) {
    double d = 0;
    if (napi_get_value_double(env_, next(name), &d) != napi_ok) throw type_error(name, expected);
    return d;
  }

  // Raw Node-API calls here: this runs for every array of every call, and the C++ wrappers would ask V8
  // for the same typed-array facts several times over.
  float* array(const char* name, size_t length, bool optional, bool written, const char* may_alias) {
    return static_cast<float*>(typed(name, length, optional, written, may_alias, napi_float32_array, sizeof(float)));
  }

  void* typed(const char* name, size_t length, bool optional, bool written, const char* may_alias,
              napi_typedarray_type want, size_t element_bytes) {
    const char* kind = want == napi_float64_array ? "a Float64Array" : "a Float32Array";
    const napi_value v = next(name);
    if (optional) {
      napi_valuetype t;
      napi_typeof(env_, v, &t);
      if (t == napi_null || t == napi_undefined) return nullptr;
    }
    bool is_typed_array = false;
    napi_is_typedarray(env_, v, &is_typed_array);
    napi_typedarray_type type;
    size_t got = 0;
    void* data = nullptr;  // from the view itself, so that SharedArrayBuffer-backed arrays work too
    napi_value array_buffer;
    if (!is_typed_array || napi_get_typedarray_info(env_, v, &type, &got, &data, &array_buffer, nullptr) != napi_ok ||
        type != want)
      throw type_error(name, optional ? std::string(kind) + ", null or undefined" : std::string(kind));
    if (got != length) {
      bool detached = false;
      napi_is_detached_arraybuffer(env_, array_buffer, &detached);
      throw range_error(name, detached ? std::string(kind) + " whose buffer is not detached (transferred)"
                                       : std::string(kind) + " of length " + std::to_string(length) + ", got " +
                                             std::to_string(got));
    }
    if (count_ == kMaxBuffers) throw Napi::Error::New(env_, "normkit: too many array arguments");
    buffers_[count_++] = {name, v, data, length * element_bytes, written, may_alias};
    return data;
  }

  std::string message(const char* name, const std::string& expected) const {
    return std::string("normkit.") + op_ + ": '" + name + "' must be " + expected;
  }
  Napi::Error type_error(const char* name, const std::string& expected) const {
    return Napi::TypeError::New(env_, message(name, expected));
  }
  Napi::Error range_error(const char* name, const std::string& expected) const {
    return Napi::RangeError::New(env_, message(name, expected));
  }

  const Napi::CallbackInfo& info_;
  napi_env env_;
  const char* op_;
  size_t index_ = 0;
  BufferUse buffers_[kMaxBuffers];
  size_t count_ = 0;
};

}  // namespace normkit
