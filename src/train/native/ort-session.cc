// alexc's own onnxruntime binding for the CPU training step: a session whose run writes every
// output into an array the caller supplies, and nothing else.
//
// onnxruntime-node copies each output into a fresh JavaScript array, preallocated or not
// (docs/performance.md): a copy of every parameter and state tensor per step on top of
// onnxruntime's own output buffers, and it rules out updating the parameters in place. Here
// every input and output is an OrtValue over the caller's typed array (CreateTensorWithDataAsOrtValue),
// so an output may even be the very array fed as an input (see src/passes/in-place.ts for when
// that is sound).
//
// It loads the onnxruntime shared library that onnxruntime-node ships (path given by the caller)
// and calls its C API through the function table OrtGetApiBase()->GetApi() returns. The table's
// layout is onnxruntime's public, append-only ABI; the slots used here are named below by their
// position in it (onnxruntime_c_api.h, struct OrtApi) and only ever called with the argument
// types that header declares.
//
// Built by scripts/build-native.sh with the C++ compiler and Node's own headers (Node-API).

#define NAPI_VERSION 8
#include <node_api.h>

#include <dlfcn.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

// ---- the C API, by slot -------------------------------------------------------------------

using OrtStatusPtr = void*;

enum Slot : size_t {
  kGetErrorMessage = 2,
  kCreateEnv = 3,
  kCreateSessionFromArray = 8,
  kRun = 9,
  kCreateSessionOptions = 10,
  kSetSessionExecutionMode = 13,
  kEnableProfiling = 14,
  kEnableMemPattern = 16,
  kDisableMemPattern = 17,
  kEnableCpuMemArena = 18,
  kDisableCpuMemArena = 19,
  kSetSessionGraphOptimizationLevel = 23,
  kSetIntraOpNumThreads = 24,
  kSetInterOpNumThreads = 25,
  kCreateTensorWithDataAsOrtValue = 49,
  kCreateCpuMemoryInfo = 69,
  kAllocatorFree = 76,
  kGetAllocatorWithDefaultOptions = 78,
  kReleaseEnv = 92,
  kReleaseStatus = 93,
  kReleaseMemoryInfo = 94,
  kReleaseSession = 95,
  kReleaseValue = 96,
  kReleaseSessionOptions = 100,
  kSessionEndProfiling = 110,
};

constexpr uint32_t kApiVersion = 13;  // every slot above exists since API version 5
constexpr int kLoggingLevelError = 3;
constexpr int kGraphOptimizationAll = 99;
constexpr int kExecutionSequential = 0;
constexpr int kArenaAllocator = 1;
constexpr int kMemTypeDefault = 0;

struct OrtApiBase {
  const void* (*GetApi)(uint32_t version);
  const char* (*GetVersionString)();
};

void* const* api = nullptr;  // the OrtApi table, as an array of function pointers
void* env = nullptr;         // one OrtEnv for the process
void* cpuMemory = nullptr;   // OrtMemoryInfo for tensors over caller memory

template <typename F>
F Fn(Slot s) {
  return reinterpret_cast<F>(api[s]);
}

// An OrtStatus* turned into an error message ("" for success); the status is released.
std::string Take(OrtStatusPtr status) {
  if (!status) return "";
  std::string msg = Fn<const char* (*)(const void*)>(kGetErrorMessage)(status);
  Fn<void (*)(void*)>(kReleaseStatus)(status);
  return msg.empty() ? "onnxruntime failed without a message" : msg;
}

// ---- Node-API helpers ----------------------------------------------------------------------

void ThrowIf(napi_env e, const std::string& msg) {
  if (!msg.empty()) napi_throw_error(e, nullptr, msg.c_str());
}

bool GetString(napi_env e, napi_value v, std::string* out) {
  size_t n = 0;
  if (napi_get_value_string_utf8(e, v, nullptr, 0, &n) != napi_ok) return false;
  std::vector<char> buf(n + 1);
  napi_get_value_string_utf8(e, v, buf.data(), n + 1, &n);
  out->assign(buf.data(), n);
  return true;
}

napi_value Prop(napi_env e, napi_value obj, const char* name) {
  napi_value v = nullptr;
  napi_get_named_property(e, obj, name, &v);
  return v;
}

size_t ElementBytes(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array:
      return 1;
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
      return 4;
    default:
      return 8;
  }
}

// ---- load ----------------------------------------------------------------------------------

// load(libraryPath): opens onnxruntime and creates the process's OrtEnv; returns its version.
napi_value Load(napi_env e, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr);
  std::string path;
  if (argc < 1 || !GetString(e, argv[0], &path)) {
    napi_throw_type_error(e, nullptr, "load(libraryPath)");
    return nullptr;
  }
  static const char* version = nullptr;
  if (!api) {
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
      ThrowIf(e, std::string("cannot open onnxruntime: ") + dlerror());
      return nullptr;
    }
    auto getBase = reinterpret_cast<const OrtApiBase* (*)()>(dlsym(lib, "OrtGetApiBase"));
    if (!getBase) {
      ThrowIf(e, path + ": no OrtGetApiBase");
      return nullptr;
    }
    const OrtApiBase* base = getBase();
    const void* table = base->GetApi(kApiVersion);
    if (!table) {
      ThrowIf(e, std::string("onnxruntime ") + base->GetVersionString() + " does not offer C API version 13");
      return nullptr;
    }
    api = static_cast<void* const*>(table);
    std::string err = Take(Fn<OrtStatusPtr (*)(int, const char*, void**)>(kCreateEnv)(kLoggingLevelError, "alexc", &env));
    if (err.empty()) err = Take(Fn<OrtStatusPtr (*)(int, int, void**)>(kCreateCpuMemoryInfo)(kArenaAllocator, kMemTypeDefault, &cpuMemory));
    if (!err.empty()) {
      api = nullptr;
      ThrowIf(e, err);
      return nullptr;
    }
    version = base->GetVersionString();
  }
  napi_value out;
  napi_create_string_utf8(e, version, NAPI_AUTO_LENGTH, &out);
  return out;
}

// ---- sessions ------------------------------------------------------------------------------

struct Session {
  void* session = nullptr;
  int running = 0;
};

void FinalizeSession(napi_env, void* data, void*) {
  auto* s = static_cast<Session*>(data);
  if (s->session && s->running == 0) Fn<void (*)(void*)>(kReleaseSession)(s->session);
  delete s;
}

Session* Unwrap(napi_env e, napi_value v) {
  void* p = nullptr;
  if (napi_unwrap(e, v, &p) != napi_ok || !p) {
    napi_throw_type_error(e, nullptr, "not a native session");
    return nullptr;
  }
  return static_cast<Session*>(p);
}

// createSession(modelBytes, {threads, memoryPattern, arena, profilePrefix?}) -> session object
// (synchronous). With a profilePrefix, onnxruntime profiles every run into <prefix>_<date>.json.
napi_value CreateSession(napi_env e, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr);
  if (!api) {
    ThrowIf(e, "load() first");
    return nullptr;
  }
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (argc < 2 || napi_get_typedarray_info(e, argv[0], &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(e, nullptr, "createSession(model: Uint8Array, options)");
    return nullptr;
  }
  int32_t threads = 0;
  bool memoryPattern = true, arena = true;
  napi_get_value_int32(e, Prop(e, argv[1], "threads"), &threads);
  napi_get_value_bool(e, Prop(e, argv[1], "memoryPattern"), &memoryPattern);
  napi_get_value_bool(e, Prop(e, argv[1], "arena"), &arena);
  std::string profilePrefix;
  GetString(e, Prop(e, argv[1], "profilePrefix"), &profilePrefix);

  void* options = nullptr;
  std::string err = Take(Fn<OrtStatusPtr (*)(void**)>(kCreateSessionOptions)(&options));
  using SetInt = OrtStatusPtr (*)(void*, int);
  using Toggle = OrtStatusPtr (*)(void*);
  if (err.empty()) err = Take(Fn<SetInt>(kSetSessionGraphOptimizationLevel)(options, kGraphOptimizationAll));
  if (err.empty()) err = Take(Fn<SetInt>(kSetSessionExecutionMode)(options, kExecutionSequential));
  if (err.empty()) err = Take(Fn<SetInt>(kSetIntraOpNumThreads)(options, threads));
  if (err.empty()) err = Take(Fn<SetInt>(kSetInterOpNumThreads)(options, 1));
  if (err.empty()) err = Take(Fn<Toggle>(memoryPattern ? kEnableMemPattern : kDisableMemPattern)(options));
  if (err.empty()) err = Take(Fn<Toggle>(arena ? kEnableCpuMemArena : kDisableCpuMemArena)(options));
  if (err.empty() && !profilePrefix.empty()) {
    err = Take(Fn<OrtStatusPtr (*)(void*, const char*)>(kEnableProfiling)(options, profilePrefix.c_str()));
  }
  void* session = nullptr;
  if (err.empty()) {
    using Create = OrtStatusPtr (*)(const void*, const void*, size_t, const void*, void**);
    err = Take(Fn<Create>(kCreateSessionFromArray)(env, data, length, options, &session));
  }
  if (options) Fn<void (*)(void*)>(kReleaseSessionOptions)(options);
  if (!err.empty()) {
    ThrowIf(e, err);
    return nullptr;
  }
  napi_value obj;
  napi_create_object(e, &obj);
  auto* s = new Session{session, 0};
  napi_wrap(e, obj, s, FinalizeSession, nullptr, nullptr);
  return obj;
}

// The session of a call whose only argument is one (a type error is thrown where it is not).
Session* OnlyArgument(napi_env e, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr);
  if (argc) return Unwrap(e, argv[0]);
  napi_throw_type_error(e, nullptr, "a native session is required");
  return nullptr;
}

napi_value ReleaseSession(napi_env e, napi_callback_info info) {
  Session* s = OnlyArgument(e, info);
  if (!s) return nullptr;
  if (s->running) {
    ThrowIf(e, "release() while a run is in progress");
    return nullptr;
  }
  if (s->session) Fn<void (*)(void*)>(kReleaseSession)(s->session);
  s->session = nullptr;
  return nullptr;
}

// endProfiling(session) -> the profile's file name: onnxruntime writes it now and profiles no more.
napi_value EndProfiling(napi_env e, napi_callback_info info) {
  Session* s = OnlyArgument(e, info);
  if (!s) return nullptr;
  if (!s->session || s->running) {
    ThrowIf(e, s->session ? "endProfiling() while a run is in progress" : "the session was released");
    return nullptr;
  }
  void* allocator = nullptr;
  char* file = nullptr;
  std::string err = Take(Fn<OrtStatusPtr (*)(void**)>(kGetAllocatorWithDefaultOptions)(&allocator));
  if (err.empty()) err = Take(Fn<OrtStatusPtr (*)(void*, void*, char**)>(kSessionEndProfiling)(s->session, allocator, &file));
  napi_value out = nullptr;
  if (err.empty()) napi_create_string_utf8(e, file ? file : "", NAPI_AUTO_LENGTH, &out);
  if (file) Take(Fn<OrtStatusPtr (*)(void*, void*)>(kAllocatorFree)(allocator, file));
  ThrowIf(e, err);
  return out;
}

// ---- run -----------------------------------------------------------------------------------

struct RunJob {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  Session* session = nullptr;
  napi_ref sessionRef = nullptr;
  std::vector<std::string> names[2];  // inputs, outputs
  std::vector<void*> values[2];       // OrtValue*
  std::vector<napi_ref> arrays;       // the typed arrays, kept alive while onnxruntime uses them
  std::string error;
};

// One tensor spec {name, data: TypedArray, dims: number[], type: ONNX element type} into an
// OrtValue over the array's memory.
std::string Bind(napi_env e, napi_value spec, RunJob* job, int side) {
  std::string name;
  if (!GetString(e, Prop(e, spec, "name"), &name)) return "tensor spec without a name";
  napi_typedarray_type ta;
  size_t length = 0;
  void* data = nullptr;
  napi_value array = Prop(e, spec, "data");
  if (napi_get_typedarray_info(e, array, &ta, &length, &data, nullptr, nullptr) != napi_ok) return name + ": data is not a typed array";
  int32_t type = 0;
  if (napi_get_value_int32(e, Prop(e, spec, "type"), &type) != napi_ok) return name + ": no element type";
  napi_value dimsArray = Prop(e, spec, "dims");
  uint32_t rank = 0;
  if (napi_get_array_length(e, dimsArray, &rank) != napi_ok) return name + ": dims is not an array";
  std::vector<int64_t> dims(rank);
  int64_t count = 1;
  for (uint32_t i = 0; i < rank; i++) {
    napi_value d;
    napi_get_element(e, dimsArray, i, &d);
    if (napi_get_value_int64(e, d, &dims[i]) != napi_ok || dims[i] < 0) return name + ": bad dims";
    count *= dims[i];
  }
  if (static_cast<size_t>(count) != length) return name + ": " + std::to_string(length) + " elements for dims of " + std::to_string(count);
  napi_ref ref;
  napi_create_reference(e, array, 1, &ref);
  job->arrays.push_back(ref);
  void* value = nullptr;
  using Create = OrtStatusPtr (*)(const void*, void*, size_t, const int64_t*, size_t, int, void**);
  std::string err = Take(Fn<Create>(kCreateTensorWithDataAsOrtValue)(cpuMemory, data, length * ElementBytes(ta), dims.data(), rank, type, &value));
  if (!err.empty()) return name + ": " + err;
  job->names[side].push_back(name);
  job->values[side].push_back(value);
  return "";
}

void Cleanup(napi_env e, RunJob* job) {
  for (auto& side : job->values)
    for (void* v : side)
      if (v) Fn<void (*)(void*)>(kReleaseValue)(v);
  for (napi_ref r : job->arrays) napi_delete_reference(e, r);
  if (job->sessionRef) napi_delete_reference(e, job->sessionRef);
  if (job->work) napi_delete_async_work(e, job->work);
  delete job;
}

void Execute(napi_env, void* data) {
  auto* job = static_cast<RunJob*>(data);
  std::vector<const char*> in, out;
  for (auto& n : job->names[0]) in.push_back(n.c_str());
  for (auto& n : job->names[1]) out.push_back(n.c_str());
  using RunFn = OrtStatusPtr (*)(void*, const void*, const char* const*, const void* const*, size_t, const char* const*, size_t, void**);
  job->error = Take(Fn<RunFn>(kRun)(job->session->session, nullptr, in.data(), job->values[0].data(), in.size(), out.data(), out.size(),
                                    job->values[1].data()));
}

void Complete(napi_env e, napi_status status, void* data) {
  auto* job = static_cast<RunJob*>(data);
  job->session->running--;
  napi_value result;
  if (status != napi_ok && job->error.empty()) job->error = "the run was cancelled";
  if (job->error.empty()) {
    napi_get_undefined(e, &result);
    napi_resolve_deferred(e, job->deferred, result);
  } else {
    napi_value msg;
    napi_create_string_utf8(e, job->error.c_str(), NAPI_AUTO_LENGTH, &msg);
    napi_create_error(e, nullptr, msg, &result);
    napi_reject_deferred(e, job->deferred, result);
  }
  Cleanup(e, job);
}

// run(session, inputs: Spec[], outputs: Spec[]) -> Promise<void>: every output is written into
// its spec's array, which must have the output's exact size.
napi_value Run(napi_env e, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr);
  Session* s = argc == 3 ? Unwrap(e, argv[0]) : nullptr;
  if (!s) return nullptr;
  if (!s->session) {
    ThrowIf(e, "the session was released");
    return nullptr;
  }
  auto* job = new RunJob;
  job->session = s;
  std::string err;
  for (int side = 0; side < 2 && err.empty(); side++) {
    uint32_t n = 0;
    if (napi_get_array_length(e, argv[1 + side], &n) != napi_ok) err = "run(session, inputs[], outputs[])";
    for (uint32_t i = 0; i < n && err.empty(); i++) {
      napi_value spec;
      napi_get_element(e, argv[1 + side], i, &spec);
      err = Bind(e, spec, job, side);
    }
  }
  if (!err.empty()) {
    Cleanup(e, job);
    ThrowIf(e, err);
    return nullptr;
  }
  napi_create_reference(e, argv[0], 1, &job->sessionRef);
  napi_value promise, resource;
  napi_create_promise(e, &job->deferred, &promise);
  napi_create_string_utf8(e, "alexc.ortRun", NAPI_AUTO_LENGTH, &resource);
  napi_create_async_work(e, nullptr, resource, Execute, Complete, job, &job->work);
  s->running++;
  napi_queue_async_work(e, job->work);
  return promise;
}

napi_value Init(napi_env e, napi_value exports) {
  napi_property_descriptor props[] = {
      {"load", nullptr, Load, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"createSession", nullptr, CreateSession, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"releaseSession", nullptr, ReleaseSession, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"endProfiling", nullptr, EndProfiling, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"run", nullptr, Run, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(e, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
