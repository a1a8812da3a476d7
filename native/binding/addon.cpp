// The Node-API face of the kernels: argument checks (args.h), the op list (ops.h), and the two ways to run
// an op: on the calling thread, or on a libuv worker thread behind a Promise.
#include <napi.h>
#include <v8.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../core/dispatch.h"
#include "args.h"
#include "ops.h"

namespace normkit {
namespace {

// The implementation in use, process-wide. Chosen at load (NORMKIT_ISA or the best supported), changed by
// setIsa(). An async op keeps the table it started with.
std::atomic<const KernelTable*> g_kernels{nullptr};

template <typename Op>
Napi::Value RunSync(const Napi::CallbackInfo& info) {
  Args in(info, Op::kName);
  const typename Op::Params p = Op::parse(in);
  in.expect_end();
  in.check_no_overlap();
  Op::run(*g_kernels.load(), p);
  return info.Env().Undefined();
}

// Keeps an argument's memory alive while a worker thread uses it. A reference keeps the typed array from
// being collected; the backing store keeps its bytes alive even if the buffer is detached or transferred
// meanwhile (Node-API has no way to pin memory, so this one step uses V8's API: a napi_value is a
// v8::Local<v8::Value> in every Node release this addon builds against). A detached buffer then turns into
// a rejected Promise, never a write into freed memory.
struct Pin {
  Napi::Reference<Napi::Value> ref;
  napi_value array_buffer_of(Napi::Env env) const {
    napi_value ab = nullptr;
    napi_get_typedarray_info(env, ref.Value(), nullptr, nullptr, nullptr, &ab, nullptr);
    return ab;
  }
  std::shared_ptr<v8::BackingStore> store;
};

std::shared_ptr<v8::BackingStore> BackingStoreOf(napi_value typed_array) {
  v8::Local<v8::Value> local;
  static_assert(sizeof(local) == sizeof(typed_array), "napi_value is not a v8::Local on this Node");
  std::memcpy(static_cast<void*>(&local), &typed_array, sizeof(typed_array));
  return local.As<v8::ArrayBufferView>()->Buffer()->GetBackingStore();
}

template <typename Op>
class OpWorker : public Napi::AsyncWorker {
 public:
  OpWorker(Napi::Env env, const typename Op::Params& p, const Args& args)
      : Napi::AsyncWorker(env, Op::kName), deferred_(Napi::Promise::Deferred::New(env)), params_(p),
        kernels_(g_kernels.load()) {
    for (size_t i = 0; i < args.buffer_count(); ++i) {
      const BufferUse& b = args.buffers()[i];
      Pin pin;
      pin.ref = Napi::Persistent(Napi::Value(env, b.value));
      pin.store = BackingStoreOf(b.value);
      pins_.push_back(std::move(pin));
    }
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override { Op::run(*kernels_, params_); }

  void OnOK() override {
    Napi::Env env = Env();
    for (const Pin& pin : pins_) {
      bool detached = false;
      napi_is_detached_arraybuffer(env, pin.array_buffer_of(env), &detached);
      if (detached) {
        deferred_.Reject(Napi::Error::New(env, std::string("normkit.") + Op::kName +
                                                   "Async: an argument's buffer was detached (transferred) "
                                                   "while the op ran; its results are lost")
                             .Value());
        return;
      }
    }
    deferred_.Resolve(env.Undefined());
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  typename Op::Params params_;
  const KernelTable* kernels_;
  std::vector<Pin> pins_;
};

template <typename Op>
Napi::Value RunAsync(const Napi::CallbackInfo& info) {
  static const std::string name = std::string(Op::kName) + "Async";
  Args in(info, name.c_str());
  const typename Op::Params p = Op::parse(in);
  in.expect_end();
  in.check_no_overlap();
  auto* worker = new OpWorker<Op>(info.Env(), p, in);
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // the worker deletes itself when done
  return promise;
}

Napi::Array Names(Napi::Env env, const std::vector<std::string>& names) {
  Napi::Array a = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) a.Set(uint32_t(i), names[i]);
  return a;
}
std::vector<std::string> IsaNames(const std::vector<const KernelTable*>& tables) {
  std::vector<std::string> names;
  for (const KernelTable* k : tables) names.push_back(k->isa);
  return names;
}

// info() -> { isa, supported, compiled, cpuFeatures }
Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("isa", g_kernels.load()->isa);
  o.Set("supported", Names(env, IsaNames(supported_kernels())));
  o.Set("compiled", Names(env, IsaNames(compiled_kernels())));
  o.Set("cpuFeatures", Names(env, cpu_features()));
  return o;
}

// setIsa(name): '' for the best this CPU supports. Throws with the reason if it cannot be used.
Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  if (info.Length() != 1 || !info[0].IsString())
    throw Napi::TypeError::New(info.Env(), "normkit.setIsa: 'isa' must be a string");
  std::string error;
  const KernelTable* k = select_kernels(info[0].As<Napi::String>().Utf8Value(), &error);
  if (!k) throw Napi::Error::New(info.Env(), "normkit.setIsa: " + error);
  g_kernels.store(k);
  return Napi::String::New(info.Env(), k->isa);
}

// copy(src, dst): memcpy of equal-length Float32Arrays; the bandwidth yardstick of the benchmark.
Napi::Value Copy(const Napi::CallbackInfo& info) {
  Args in(info, "copy");
  const size_t n = in.dim("length");
  const float* src = in.input("src", n);
  float* dst = in.output("dst", n);
  in.expect_end();
  in.check_no_overlap();
  if (n) std::memcpy(dst, src, n * sizeof(float));
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (!g_kernels.load()) {
    // NORMKIT_ISA is honoured here so that it also holds for code that loads the addon directly; an
    // unusable value fails the load with the reason, which the TypeScript loader reports.
    const char* forced = std::getenv("NORMKIT_ISA");
    std::string error;
    const KernelTable* k = select_kernels(forced ? forced : "", &error);
    if (!k) throw Napi::Error::New(env, "NORMKIT_ISA=" + std::string(forced) + ": " + error);
    g_kernels.store(k);
  }
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa, "setIsa"));
  exports.Set("copy", Napi::Function::New(env, Copy, "copy"));
#define NORMKIT_EXPORT(Op)                                                               \
  exports.Set(Op::kName, Napi::Function::New(env, RunSync<Op>, Op::kName));               \
  exports.Set(std::string(Op::kName) + "Async", Napi::Function::New(env, RunAsync<Op>));
  NORMKIT_FOR_EACH_OP(NORMKIT_EXPORT)
#undef NORMKIT_EXPORT
  return exports;
}

}  // namespace
}  // namespace normkit

static Napi::Object InitNormkit(Napi::Env env, Napi::Object exports) { return normkit::Init(env, exports); }
NODE_API_MODULE(normkit, InitNormkit)
