// alexc's MPI binding for data-parallel training (`alexc train --dist mpi`): MPI_Init, the rank
// and size of MPI_COMM_WORLD, an in-place MPI_Allreduce over a typed array and MPI_Finalize, and
// one line on stderr when mpirun ends the rank (SIGTERM).
// Nothing else: the collective engine is the MPI library's, run by mpirun or Slurm.
//
// Built by scripts/build-native.sh with mpicxx where it exists (Open MPI: libopenmpi-dev); every
// call runs on Node's main thread, so MPI is initialised at MPI_THREAD_SINGLE.

#define NAPI_VERSION 8
#include <mpi.h>
#include <node_api.h>

#include <dlfcn.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

void Throw(napi_env e, const std::string& msg) { napi_throw_error(e, nullptr, msg.c_str()); }

std::string MpiError(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int n = 0;
  MPI_Error_string(code, text, &n);
  return std::string(text, n);
}

napi_value Int(napi_env e, int v) {
  napi_value out;
  napi_create_int32(e, v, &out);
  return out;
}

// Open MPI loads its components with dlopen and they look up libmpi's symbols globally; Node
// loads an addon's libraries with RTLD_LOCAL, so libmpi is made global before MPI_Init.
void PromoteLibmpi() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&MPI_Init), &info) && info.dli_fname) dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
}

// The line a rank prints when mpirun ends the job under it (another rank died, or Ctrl-C), written
// from the signal handler: the rank is usually blocked inside MPI then, where no JavaScript runs.
char stopped[160];

void OnTerminate(int) {
  ssize_t ignored = write(STDERR_FILENO, stopped, strlen(stopped));
  (void)ignored;
  _exit(128 + SIGTERM);
}

void SayWhenStopped(int rank) {
  snprintf(stopped, sizeof stopped,
           "alexc: --dist mpi: rank %d terminated (SIGTERM: mpirun ends every rank when a rank fails or the job is interrupted); the last checkpoint is kept\n", rank);
  struct sigaction action = {};
  action.sa_handler = OnTerminate;
  sigaction(SIGTERM, &action, nullptr);
}

// init() -> { rank, size, library }: MPI_Init once per process (a second call returns the same).
napi_value Init(napi_env e, napi_callback_info) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    PromoteLibmpi();
    int provided = 0;
    int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SINGLE, &provided);
    if (rc != MPI_SUCCESS) {
      Throw(e, "MPI_Init failed: " + MpiError(rc));
      return nullptr;
    }
  }
  int rank = 0, size = 0, n = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (!initialized) SayWhenStopped(rank);
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  MPI_Get_library_version(version, &n);
  std::string library(version, n);
  size_t cut = library.find_first_of(",\n");
  if (cut != std::string::npos) library.resize(cut);
  napi_value out, lib;
  napi_create_object(e, &out);
  napi_set_named_property(e, out, "rank", Int(e, rank));
  napi_set_named_property(e, out, "size", Int(e, size));
  napi_create_string_utf8(e, library.c_str(), library.size(), &lib);
  napi_set_named_property(e, out, "library", lib);
  return out;
}

bool OpNamed(const std::string& name, MPI_Op* op) {
  if (name == "sum") *op = MPI_SUM;
  else if (name == "max") *op = MPI_MAX;
  else if (name == "min") *op = MPI_MIN;
  else return false;
  return true;
}

// allreduce(array: Float32Array | Float64Array, op: "sum" | "max" | "min"): the reduction over
// every rank written into `array` on every rank (MPI_IN_PLACE, MPI_COMM_WORLD).
napi_value Allreduce(napi_env e, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr);
  bool typed = false;
  if (argc == 2) napi_is_typedarray(e, argv[0], &typed);
  char opName[8] = {0};
  size_t opLength = 0;
  MPI_Op op;
  if (!typed || napi_get_value_string_utf8(e, argv[1], opName, sizeof opName, &opLength) != napi_ok || !OpNamed(opName, &op)) {
    Throw(e, "allreduce(Float32Array | Float64Array, \"sum\" | \"max\" | \"min\")");
    return nullptr;
  }
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_get_typedarray_info(e, argv[0], &type, &length, &data, nullptr, nullptr);
  if (type != napi_float32_array && type != napi_float64_array) {
    Throw(e, "allreduce: only Float32Array and Float64Array are reduced");
    return nullptr;
  }
  MPI_Datatype dtype = type == napi_float32_array ? MPI_FLOAT : MPI_DOUBLE;
  // MPI counts are int: a buffer longer than that goes in pieces.
  const size_t chunk = 1u << 30;
  const size_t bytes = type == napi_float32_array ? 4 : 8;
  for (size_t at = 0; at < length; at += chunk) {
    int count = static_cast<int>(length - at < chunk ? length - at : chunk);
    int rc = MPI_Allreduce(MPI_IN_PLACE, static_cast<char*>(data) + at * bytes, count, dtype, op, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) {
      Throw(e, "MPI_Allreduce failed: " + MpiError(rc));
      return nullptr;
    }
  }
  return nullptr;
}

// finalize(): MPI_Finalize, which mpirun expects of every rank that exits normally.
napi_value Finalize(napi_env, napi_callback_info) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Finalize();
  return nullptr;
}

napi_value Module(napi_env e, napi_value exports) {
  napi_property_descriptor props[] = {
      {"init", nullptr, Init, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"allreduce", nullptr, Allreduce, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"finalize", nullptr, Finalize, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(e, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Module)
