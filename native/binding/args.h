// Reads one call's JavaScript arguments into a kernel's parameter struct, checking each as it goes.
//
// The TypeScript layer (src/validate.ts) has already checked everything with friendlier messages; these
// checks are the second line, so that calling the addon directly can never make a kernel read or write
// out of bounds. Arguments are positional, in the order an op's parse() asks for them.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

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
  Args(const Napi::CallbackInfo& info, std::string op) : info_(info), op_(std::move(op)) {}

  // A count: an integer in [0, 2^53).
  size_t dim(const char* name) {
    const Napi::Value v = next(name);
    if (!v.IsNumber()) throw type_error(name, "a non-negative integer");
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d != std::floor(d) || d >= 9007199254740992.0 || d > double(SIZE_MAX))
      throw range_error(name, "a non-negative integer below 2^53, got " + std::to_string(d));
    return static_cast<size_t>(d);
  }

  // a * b, refusing sizes whose bytes would not fit in memory addressing.
  size_t product(size_t a, size_t b, const char* what) {
    if (b != 0 && a > (SIZE_MAX / sizeof(float)) / b)
      throw Napi::RangeError::New(info_.Env(), message(what, "a size that fits in memory"));
    return a * b;
  }

  // eps and friends: a finite number >= 0.
  float non_negative(const char* name) {
    const Napi::Value v = next(name);
    if (!v.IsNumber()) throw type_error(name, "a number");
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || !std::isfinite(d)) throw range_error(name, "a finite number >= 0");
    return static_cast<float>(d);
  }

  // A flag: true or false.
  bool boolean(const char* name) {
    const Napi::Value v = next(name);
    if (!v.IsBoolean()) throw type_error(name, "a boolean");
    return v.As<Napi::Boolean>().Value();
  }

  // A finite number in [lo, hi], kept in double.
  double number_in(const char* name, double lo, double hi) {
    const Napi::Value v = next(name);
    if (!v.IsNumber()) throw type_error(name, "a number");
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= lo && d <= hi))
      throw range_error(name, "a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                                  std::to_string(d));
    return d;
  }

  // Float64Array arguments (per-channel statistics that must not lose precision).
  const double* input_f64(const char* name, size_t length) {
    return static_cast<const double*>(typed(name, length, false, false, nullptr, napi_float64_array, sizeof(double), "a Float64Array"));
  }
  double* output_f64(const char* name, size_t length) {
    return static_cast<double*>(typed(name, length, false, true, nullptr, napi_float64_array, sizeof(double), "a Float64Array"));
  }
  double* optional_output_f64(const char* name, size_t length) {
    return static_cast<double*>(typed(name, length, true, true, nullptr, napi_float64_array, sizeof(double), "a Float64Array"));
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
    for (const BufferUse& o : buffers_) {
      if (!o.written || o.bytes == 0) continue;
      for (const BufferUse& b : buffers_) {
        if (&b == &o || b.bytes == 0) continue;
        const char* lo = static_cast<const char*>(o.begin);
        const char* other = static_cast<const char*>(b.begin);
        const bool overlap = lo < other + b.bytes && other < lo + o.bytes;
        if (!overlap) continue;
        const bool allowed = o.may_alias && std::string(o.may_alias) == b.name && o.begin == b.begin &&
                             o.bytes == b.bytes;
        if (!allowed)
          throw Napi::RangeError::New(
              info_.Env(), "normkit." + op_ + ": '" + o.name + "' overlaps '" + b.name +
                               "' in memory; outputs must not share memory with other arguments" +
                               (o.may_alias ? std::string(" (except exactly '") + o.may_alias + "', in place)" : ""));
      }
    }
  }

  void expect_end() const {
    if (info_.Length() != index_)
      throw Napi::TypeError::New(info_.Env(), "normkit." + op_ + ": expected " +
                                                  std::to_string(index_) + " arguments, got " +
                                                  std::to_string(info_.Length()));
  }

  const std::vector<BufferUse>& buffers() const { return buffers_; }
  Napi::Env env() const { return info_.Env(); }

 private:
  Napi::Value next(const char* name) {
    if (index_ >= info_.Length())
      throw Napi::TypeError::New(info_.Env(), message(name, "an argument here, but the call has too few"));
    return info_[index_++];
  }

  float* array(const char* name, size_t length, bool optional, bool written, const char* may_alias) {
    return static_cast<float*>(typed(name, length, optional, written, may_alias, napi_float32_array, sizeof(float), "a Float32Array"));
  }

  void* typed(const char* name, size_t length, bool optional, bool written, const char* may_alias,
              napi_typedarray_type type, size_t element_bytes, const char* kind) {
    const Napi::Value v = next(name);
    if (optional && (v.IsNull() || v.IsUndefined())) return nullptr;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
      throw type_error(name, optional ? std::string(kind) + ", null or undefined" : std::string(kind));
    Napi::TypedArray a = v.As<Napi::TypedArray>();
    if (a.ElementLength() != length) {
      bool detached = false;
      napi_value ab;
      if (napi_get_typedarray_info(info_.Env(), a, nullptr, nullptr, nullptr, &ab, nullptr) == napi_ok)
        napi_is_detached_arraybuffer(info_.Env(), ab, &detached);
      throw range_error(name, detached ? std::string(kind) + " whose buffer is not detached (transferred)"
                                       : std::string(kind) + " of length " + std::to_string(length) + ", got " +
                                             std::to_string(a.ElementLength()));
    }
    void* data = nullptr;  // from the view itself, so that SharedArrayBuffer-backed arrays work too
    napi_get_typedarray_info(info_.Env(), a, nullptr, nullptr, &data, nullptr, nullptr);
    buffers_.push_back({name, v, data, length * element_bytes, written, may_alias});
    return data;
  }

  std::string message(const char* name, const std::string& expected) const {
    return "normkit." + op_ + ": '" + name + "' must be " + expected;
  }
  Napi::Error type_error(const char* name, const std::string& expected) const {
    return Napi::TypeError::New(info_.Env(), message(name, expected));
  }
  Napi::Error range_error(const char* name, const std::string& expected) const {
    return Napi::RangeError::New(info_.Env(), message(name, expected));
  }

  const Napi::CallbackInfo& info_;
  std::string op_;
  size_t index_ = 0;
  std::vector<BufferUse> buffers_;
};

}  // namespace normkit
